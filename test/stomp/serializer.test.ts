// @offline: no database, no broker
/** Header escaping and frame encoding, checked against the exact bytes and against our parser. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { escapeHeader, unescapeHeader } from '../../src/stomp/escape.js';
import { serializeFrame } from '../../src/stomp/serializer.js';
import { parseAll, prng } from './parse-all.js';

test('escaping: the four sequences, in one pass, both ways', () => {
  const cases: Array<[string, string]> = [
    ['C:\\new', 'C\\c\\\\new'],
    ['a:b', 'a\\cb'],
    ['\r\n', '\\r\\n'],
    ['\\', '\\\\'],
    ['\\n', '\\\\n'], // a backslash then n, not a newline
    ['\\c', '\\\\c'],
    ['plain value', 'plain value'],
    ['', ''],
  ];
  for (const [raw, wire] of cases) {
    assert.is(escapeHeader(raw), wire, JSON.stringify(raw));
    assert.is(unescapeHeader(wire), raw, JSON.stringify(wire));
  }
  for (const bad of ['\\t', 'x\\', '\\a', '\\C', '\\N']) assert.is(unescapeHeader(bad), undefined, bad);
});

test('escaping round-trips random strings made of the delicate characters', () => {
  const random = prng(2024);
  const alphabet = ['\\', ':', '\r', '\n', 'c', 'n', 'r', 'a', 'é', '🚀', ' ', 't'];
  for (let i = 0; i < 5_000; i++) {
    const s = Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    assert.is(unescapeHeader(escapeHeader(s)), s, JSON.stringify(s));
  }
});

test('exact bytes of a SEND: escaped headers, our content-length, NUL', () => {
  const frame = serializeFrame('SEND', { destination: '/queue/a', 'x:y': 'C:\\new', receipt: 'r1', 'content-length': '999' }, 'hé');
  assert.is(frame.toString('utf8'), 'SEND\ndestination:/queue/a\nx\\cy:C\\c\\\\new\nreceipt:r1\ncontent-length:3\n\nhé\0');
});

test('no body: no content-length; CONNECT headers go out unescaped', () => {
  assert.is(serializeFrame('UNSUBSCRIBE', { id: 's1' }).toString(), 'UNSUBSCRIBE\nid:s1\n\n\0');
  const connect = serializeFrame('CONNECT', { 'accept-version': '1.2', host: '/', login: 'a:b', passcode: 'p\\q' });
  assert.is(connect.toString(), 'CONNECT\naccept-version:1.2\nhost:/\nlogin:a:b\npasscode:p\\q\n\n\0');
});

test('serialized frames parse back to the same headers and binary body', () => {
  const headers = { destination: '/queue/x', 'C:\\new': 'a:b\r\n\\', empty: '', 'ünï': '🚀' };
  const body = Buffer.from([0, 1, 2, 0, 10, 13, 0]);
  const parsed = parseAll(serializeFrame('MESSAGE', headers, body));
  assert.equal(parsed.errors, []);
  const frame = parsed.frames[0]!;
  assert.equal({ ...frame.headers }, { ...headers, 'content-length': '7' });
  assert.equal(frame.body, body);
});

test('refused with E_INVALID_FRAME: NUL in a header, an EOL in a CONNECT header, a bad command, an empty name', () => {
  const refused = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof OutboxError ? e.code : 'not an OutboxError';
    }
    return undefined;
  };
  assert.is(refused(() => serializeFrame('SEND', { destination: '/q', x: 'a\0b' })), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('SEND', { 'x\0': 'v' })), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('CONNECT', { login: 'a\nb' })), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('CONNECT', { 'lo:gin': 'a' })), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('send', {})), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('SEND', { '': 'v' })), 'E_INVALID_FRAME');
  assert.is(refused(() => serializeFrame('SEND', { destination: '/q', x: 'line\nbreak' })), undefined, 'escaped, so fine');
});

test.run();

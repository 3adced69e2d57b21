/** The frame parser: a varied corpus, split at every byte offset, decodes exactly the same. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAll, parseChunks, plain } from './parse-all.js';

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s));
const binary = Buffer.from([0x00, 0x0a, 0x00, 0xff, 0x0d, 0x0a, 0x00]);

/** Each entry: the bytes on the wire and what they must decode to. */
const corpus: Array<{ name: string; wire: Buffer; command?: string; headers?: Record<string, string>; body?: Buffer; heartbeats?: number }> = [
  {
    name: 'CONNECTED is not unescaped (STOMP 1.0 compatibility)',
    wire: b('CONNECTED\nversion:1.2\nserver:RabbitMQ:3.10\\n\nheart-beat:10000,10000\n\n\0'),
    command: 'CONNECTED',
    headers: { version: '1.2', server: 'RabbitMQ:3.10\\n', 'heart-beat': '10000,10000' },
    body: b(''),
  },
  {
    name: 'escaped header names and values, unescaped in one pass',
    wire: b('MESSAGE\nsubscription:s1\na\\cb:C\\c\\\\new\nlines:one\\r\\ntwo\nback\\\\slash:\\\\n\n\n\0'),
    command: 'MESSAGE',
    headers: { subscription: 's1', 'a:b': 'C:\\new', lines: 'one\r\ntwo', 'back\\slash': '\\n' },
    body: b(''),
  },
  {
    name: 'heart-beats (LF and CR LF) between frames',
    wire: b('\n\r\n\n'),
    heartbeats: 3,
  },
  {
    name: 'content-length body with NUL, CR and LF in it',
    wire: Buffer.concat([b(`MESSAGE\ndestination:/queue/a\ncontent-length:${binary.length}\n\n`), binary, b('\0')]),
    command: 'MESSAGE',
    headers: { destination: '/queue/a', 'content-length': String(binary.length) },
    body: binary,
  },
  {
    name: 'CR LF line endings',
    wire: b('MESSAGE\r\ndestination:/queue/crlf\r\nsubscription:s2\r\n\r\nhello\0'),
    command: 'MESSAGE',
    headers: { destination: '/queue/crlf', subscription: 's2' },
    body: b('hello'),
  },
  {
    name: 'the first of a repeated header wins',
    wire: b('MESSAGE\nfoo:first\nfoo:second\nbar:\n\n\0'),
    command: 'MESSAGE',
    headers: { foo: 'first', bar: '' },
    body: b(''),
  },
  {
    name: 'multi-byte UTF-8 in headers and body',
    wire: b('MESSAGE\ngrüße:日本語 🚀\n\nçava €\0'),
    command: 'MESSAGE',
    headers: { 'grüße': '日本語 🚀' },
    body: b('çava €'),
  },
  {
    name: 'RECEIPT followed by EOLs (NUL *EOL)',
    wire: b('RECEIPT\nreceipt-id:r1z\n\n\0\n\n'),
    command: 'RECEIPT',
    headers: { 'receipt-id': 'r1z' },
    body: b(''),
    heartbeats: 2,
  },
  {
    name: 'ERROR with a text body and no content-length',
    wire: b('ERROR\nmessage:PRECONDITION_FAILED - inequivalent arg\ncontent-type:text/plain\n\nReason: {x, y}\n\0'),
    command: 'ERROR',
    headers: { message: 'PRECONDITION_FAILED - inequivalent arg', 'content-type': 'text/plain' },
    body: b('Reason: {x, y}\n'),
  },
  {
    name: 'a colon after the first stays in the value; a header named __proto__ is a header',
    wire: b('MESSAGE\nurl:http://x\n__proto__:p\nconstructor:c\ncontent-length:0\n\n\0'),
    command: 'MESSAGE',
    headers: { url: 'http://x', ['__proto__']: 'p', constructor: 'c', 'content-length': '0' },
    body: b(''),
  },
];

const stream = Buffer.concat(corpus.map((c) => c.wire));

test('each corpus entry decodes to what it means', () => {
  for (const entry of corpus) {
    const parsed = parseAll(entry.wire);
    assert.equal(parsed.errors, [], entry.name);
    assert.is(parsed.heartbeats, entry.heartbeats ?? 0, entry.name);
    if (!entry.command) {
      assert.is(parsed.frames.length, 0, entry.name);
      continue;
    }
    assert.is(parsed.frames.length, 1, entry.name);
    const frame = parsed.frames[0]!;
    assert.is(frame.command, entry.command, entry.name);
    assert.equal(Object.entries(frame.headers), Object.entries(entry.headers ?? {}), entry.name);
    assert.ok(Object.getPrototypeOf(frame.headers) === Object.prototype, 'headers stay a plain object');
    assert.ok(Buffer.isBuffer(frame.body), entry.name);
    assert.equal(frame.body, entry.body, entry.name);
  }
});

test('the whole corpus split into two chunks at every byte offset parses identically', () => {
  const whole = plain(parseAll(stream));
  assert.is(whole.frames.length, corpus.filter((c) => c.command).length);
  for (let at = 0; at <= stream.length; at++) {
    const split = plain(parseChunks([stream.subarray(0, at), stream.subarray(at)]));
    assert.equal(split, whole, `split at byte ${at}`);
  }
});

test('one byte at a time parses identically (UTF-8 split across every chunk boundary)', () => {
  const chunks = Array.from(stream, (byte) => Buffer.from([byte]));
  assert.equal(plain(parseChunks(chunks)), plain(parseAll(stream)));
});

test('every frame split at every pair of offsets parses identically', () => {
  for (const entry of corpus.filter((c) => c.command)) {
    const whole = plain(parseAll(entry.wire));
    const w = entry.wire;
    for (let i = 0; i <= w.length; i++) {
      for (let j = i; j <= w.length; j++) {
        assert.equal(plain(parseChunks([w.subarray(0, i), w.subarray(i, j), w.subarray(j)])), whole, `${entry.name}: ${i}/${j}`);
      }
    }
  }
});

test('a body does not pin the socket chunk it came in', () => {
  const wire = b('MESSAGE\n\nsmall\0');
  const parsed = parseAll(wire);
  assert.ok(parsed.frames[0]!.body.buffer !== wire.buffer || parsed.frames[0]!.body.byteOffset !== 9);
});

for (const [name, wire, code] of [
  ['an undefined escape (\\t)', 'MESSAGE\nx:a\\tb\n\n\0', 'E_PROTOCOL'],
  ['a trailing backslash', 'MESSAGE\nx:ab\\\n\n\0', 'E_PROTOCOL'],
  ['an escape in a header name', 'MESSAGE\nx\\y:1\n\n\0', 'E_PROTOCOL'],
  ['a header line without a colon', 'MESSAGE\nnocolon\n\n\0', 'E_PROTOCOL'],
  ['a lower-case command', 'message\n\n\0', 'E_PROTOCOL'],
  ['binary garbage', '\x16\x03\x01\x02\x00\x01\x00', 'E_PROTOCOL'],
  ['CR not followed by LF', 'MESSAGE\rx\n\n\0', 'E_PROTOCOL'],
  ['a bare CR between frames', '\rMESSAGE\n\n\0', 'E_PROTOCOL'],
  ['a non-numeric content-length', 'MESSAGE\ncontent-length:12a\n\n\0', 'E_PROTOCOL'],
  ['a negative content-length', 'MESSAGE\ncontent-length:-1\n\n\0', 'E_PROTOCOL'],
  ['a body longer than its content-length', 'MESSAGE\ncontent-length:2\n\nabc\0', 'E_PROTOCOL'],
] as const) {
  test(`rejected: ${name}`, () => {
    const parsed = parseAll(Buffer.concat([b(wire), b('RECEIPT\nreceipt-id:after\n\n\0')]));
    assert.equal(parsed.errors.map((e) => e.code), [code]);
    assert.is(parsed.frames.length, 0, 'nothing is emitted after the error: the parser stops');
  });
}

test('CONNECTED keeps a backslash sequence that would be an undefined escape elsewhere', () => {
  const parsed = parseAll(b('CONNECTED\nversion:1.2\nserver:a\\tb\n\n\0'));
  assert.equal(parsed.errors, []);
  assert.is(parsed.frames[0]!.headers.server, 'a\\tb');
});

test('limits: a content-length over the frame size is refused before the body arrives', () => {
  const parsed = parseChunks([b('MESSAGE\ncontent-length:1000000\n\n'), Buffer.alloc(1000)], { maxFrameSize: 64 * 1024 });
  assert.equal(parsed.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.ok(parsed.maxBuffered < 1024, 'the announced size was not allocated');
});

test('limits: a body without content-length stops at the frame size', () => {
  const chunks = [b('MESSAGE\n\n'), ...Array.from({ length: 100 }, () => Buffer.alloc(1024, 0x41))];
  const parsed = parseChunks(chunks, { maxFrameSize: 16 * 1024 });
  assert.equal(parsed.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.ok(parsed.maxBuffered <= 16 * 1024, `buffered ${parsed.maxBuffered}`);
});

test('limits: header count and header-line length', () => {
  const many = 'MESSAGE\n' + Array.from({ length: 11 }, (_, i) => `h${i}:v\n`).join('') + '\n\0';
  assert.equal(parseAll(b(many), { maxHeaders: 10 }).errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.equal(parseAll(b(many), { maxHeaders: 11 }).errors, []);
  // A line that never ends is refused once it is too long, without waiting for its end.
  const endless = [b('MESSAGE\nx:'), ...Array.from({ length: 50 }, () => Buffer.alloc(100, 0x61))];
  const parsed = parseChunks(endless, { maxHeaderLine: 1000 });
  assert.equal(parsed.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.ok(parsed.maxBuffered <= 1002, `buffered ${parsed.maxBuffered}`);
  const longCommand = parseAll(Buffer.alloc(5000, 0x41), { maxHeaderLine: 1000 });
  assert.equal(longCommand.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
});

test('a frame exactly at the limits is accepted', () => {
  const wire = b('SEND\nh:v\n\n');
  const body = Buffer.alloc(100 - wire.length - 1, 0x42);
  const parsed = parseAll(Buffer.concat([wire, body, b('\0')]), { maxFrameSize: 100, maxHeaders: 1, maxHeaderLine: 4 });
  assert.equal(parsed.errors, []);
  assert.is(parsed.frames[0]!.body.length, body.length);
  const over = parseAll(Buffer.concat([wire, body, b('B\0')]), { maxFrameSize: 100 });
  assert.equal(over.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
});

test.run();

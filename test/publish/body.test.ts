// @offline: no database, no broker
// The body rules and the headers of an outbox row, without a database.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { toJsonBody } from '../../src/wire/body.js';
import { outboxHeaders } from '../../src/publish/headers.js';

function notJson(value: unknown, pattern: RegExp): void {
  try {
    toJsonBody(value, '/topic/x');
  } catch (e) {
    assert.instance(e, OutboxError);
    assert.is((e as OutboxError).code, 'E_NOT_JSON');
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted ${String(value)}`);
}

test('Date → ISO-8601, bigint → string, bytes → base64, toJSON followed', () => {
  const body = toJsonBody({
    at: new Date('2024-05-06T07:08:09.010Z'),
    big: 12345678901234567890n,
    buf: Buffer.from('hello'),
    bytes: new Uint8Array([0, 255]),
    money: { toJSON: () => '12.50' },
    nested: [{ d: new Date(0) }, null, true, 1.5, 'x'],
    gone: undefined,
  });
  assert.equal(body, {
    at: '2024-05-06T07:08:09.010Z',
    big: '12345678901234567890',
    buf: 'aGVsbG8=',
    bytes: 'AP8=',
    money: '12.50',
    nested: [{ d: '1970-01-01T00:00:00.000Z' }, null, true, 1.5, 'x'],
  });
  assert.ok(!('gone' in (body as object)), 'undefined properties are left out, as JSON does');
});

test('a shared (not cyclic) object is fine; plain values pass unchanged', () => {
  const shared = { a: 1 };
  assert.equal(toJsonBody({ x: shared, y: shared }), { x: { a: 1 }, y: { a: 1 } });
  assert.is(toJsonBody('text'), 'text');
  assert.is(toJsonBody(null), null);
  assert.equal(toJsonBody([1, 2]), [1, 2]);
});

test('anything JSON cannot carry is E_NOT_JSON naming the path and the destination', () => {
  notJson({ n: NaN }, /^body\.n is NaN.*\(\/topic\/x\)$/);
  notJson({ list: [1, Infinity] }, /body\.list\[1\] is Infinity/);
  notJson({ f: () => 1 }, /body\.f is a function/);
  notJson({ s: Symbol('x') }, /body\.s is a symbol/);
  notJson([1, undefined], /body\[1\] is undefined/);
  notJson(undefined, /^body is undefined/);
  notJson({ m: new Map([[1, 2]]) }, /body\.m is a Map/);
  notJson({ s: new Set([1]) }, /a Set/);
  notJson({ r: /x/ }, /a RegExp/);
  notJson({ e: new Error('boom') }, /an? Error/);
  notJson({ d: new Date('nope') }, /an invalid Date/);
  notJson({ 'odd key': { t: 'a\u0000b' } }, /body\["odd key"\]\.t is a string containing U\+0000/);
  notJson({ i: new Int32Array(2) }, /Int32Array/);
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  notJson(cyclic, /body\.self is a reference to one of its own ancestors/);
});

test('headers: the dop-* set, then the hook, then the caller; reserved names refused', () => {
  const row = { id: '6f1c…', destination: '/topic/orders.v1', body: { id: 1 } };
  const headers = outboxHeaders(row, '2024-01-01T00:00:00.000Z', 'corr-1', (r) => ({ 'x-dest': r.destination, 'x-both': 'hook' }), { 'x-both': 'call', 'x-skip': undefined });
  assert.equal(headers, {
    'dop-msg-id': '6f1c…',
    'dop-msg-destination': '/topic/orders.v1',
    'dop-msg-type': 'Published',
    'dop-msg-sent-time': '2024-01-01T00:00:00.000Z',
    'dop-correlation-id': 'corr-1',
    'x-dest': '/topic/orders.v1',
    'x-both': 'call',
  });
  assert.is(outboxHeaders(row, 't', 'ambient', undefined, { 'dop-correlation-id': 'explicit' })['dop-correlation-id'], 'explicit');
  for (const [name, value, pattern] of [
    ['dop-msg-id', 'x', /set by the library/],
    ['DOP-MSG-TYPE', 'x', /set by the library/],
    ['content-type', 'text/plain', /frame header/],
    ['receipt', '1', /frame header/],
    ['x-count', 3, /must be a string, got number/],
    ['x-nul', 'a\u0000b', /NUL/],
  ] as const) {
    try {
      outboxHeaders(row, 't', 'c', undefined, { [name]: value as string });
      assert.unreachable(`accepted header ${name}`);
    } catch (e) {
      assert.is((e as OutboxError).code, 'E_INVALID_HEADER', name);
      assert.match((e as Error).message, pattern);
    }
  }
});

test.run();

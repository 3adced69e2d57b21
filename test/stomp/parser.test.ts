// @offline: no database, no broker
/** The frame parser: a varied corpus, split at every byte offset, decodes exactly the same. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createParser } from '../../src/stomp/parser.js';
import { parseAll, parseChunks, plain, type Parsed } from './parse-all.js';

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

test('a content-length that does not end the body (either way): the error comes with the frame, so a MESSAGE can still be settled', () => {
  for (const [length, body] of [[2, 'abc'], [9, 'abc\0MESSAGE\n\n\0']] as const) {
    const seen: Array<{ code: string; frame?: { command: string; headers: Record<string, string> } }> = [];
    const parser = createParser({ onFrame: () => seen.push({ code: 'frame' }), onDiscarded: () => {}, onError: (e, frame) => seen.push({ code: e.code, frame }) });
    parser.push(b(`MESSAGE\nack:a1\nsubscription:s1\ncontent-length:${length}\n\n${body}\0`));
    assert.equal(seen, [{ code: 'E_PROTOCOL', frame: { command: 'MESSAGE', headers: { ack: 'a1', subscription: 's1', 'content-length': String(length) } } }]);
  }
  // A syntax error before the headers end comes alone: there is no frame to settle.
  const errors: unknown[] = [];
  createParser({ onFrame: () => {}, onDiscarded: () => {}, onError: (e, frame) => errors.push(frame) }).push(b('MESSAGE\nack:a1\nnocolon\n\n\0'));
  assert.equal(errors, [undefined]);
});

test('CONNECTED keeps a backslash sequence that would be an undefined escape elsewhere', () => {
  const parsed = parseAll(b('CONNECTED\nversion:1.2\nserver:a\\tb\n\n\0'));
  assert.equal(parsed.errors, []);
  assert.is(parsed.frames[0]!.headers.server, 'a\\tb');
});

const after = b('RECEIPT\nreceipt-id:after\n\n\0');
const reasons = (p: Parsed): string[] => p.discarded.map((d) => `${d.reason.code}: ${d.reason.message}`);

test('limits: a content-length over the frame size is skipped, never allocated, and the next frame is read', () => {
  const head = b('MESSAGE\nack:a1\nsubscription:s1\ncontent-length:1000000\n\n');
  const chunks = [head, ...Array.from({ length: 1000 }, () => Buffer.alloc(1000)), b('\0'), after];
  const parsed = parseChunks(chunks, { maxFrameSize: 64 * 1024 });
  assert.equal(parsed.errors, []);
  assert.is(parsed.events, 'DF');
  assert.equal(parsed.discarded[0]!.headers, { ack: 'a1', subscription: 's1', 'content-length': '1000000' });
  const size = head.length + 1_000_000 + 1;
  assert.equal(reasons(parsed), [`E_FRAME_TOO_LARGE: MESSAGE frame discarded: ${size} bytes, ${size - 65536} over maxFrameSize 65536`]);
  assert.is(parsed.frames[0]!.headers['receipt-id'], 'after');
  assert.ok(parsed.maxBuffered < 1024, `the announced size was not allocated (buffered ${parsed.maxBuffered})`);
});

test('limits: a body without content-length is read up to the frame size, then skipped to its NUL', () => {
  const chunks = [b('MESSAGE\nack:a2\n\n'), ...Array.from({ length: 100 }, () => Buffer.alloc(1024, 0x41)), b('\0'), after];
  const parsed = parseChunks(chunks, { maxFrameSize: 16 * 1024 });
  assert.equal(parsed.errors, []);
  assert.is(parsed.events, 'DF');
  assert.equal(parsed.discarded[0]!.headers, { ack: 'a2' });
  const size = 'MESSAGE\nack:a2\n\n'.length + 100 * 1024 + 1;
  assert.equal(reasons(parsed), [`E_FRAME_TOO_LARGE: MESSAGE frame discarded: ${size} bytes, ${size - 16384} over maxFrameSize 16384`]);
  assert.ok(parsed.maxBuffered <= 16 * 1024, `buffered ${parsed.maxBuffered}`);
});

test('limits: past maxHeaders the frame is discarded, and the headers to settle it are still read after the limit', () => {
  const body = Buffer.from([0, 1, 0, 10, 0]); // NULs: only the content-length read after the limit finds the end
  const fillers = Array.from({ length: 1200 }, (_, k) => `h${k}:v${k}\n`).join('');
  const settle = 'ack:a\\c3\nmessage-id:m3\nsubscription:s1\ndestination:/queue/q\ndop-msg-id:d3\ncap-msg-id:c3\n';
  // The first of a repeated header still wins.
  const wire = Buffer.concat([b(`MESSAGE\n${fillers}${settle}other:x\nack:late\ncontent-length:${body.length}\n\n`), body, b('\0'), after]);
  const parsed = parseAll(wire);
  assert.equal(parsed.errors, []);
  assert.is(parsed.events, 'DF');
  const headers = parsed.discarded[0]!.headers;
  assert.is(headers.h999, 'v999', 'the first 1000 headers are kept');
  assert.is(headers.h1000, undefined, 'past the limit, only what settles the frame');
  assert.is(headers.other, undefined);
  assert.equal(
    Object.entries(headers).slice(1000),
    Object.entries({ ack: 'a:3', 'message-id': 'm3', subscription: 's1', destination: '/queue/q', 'dop-msg-id': 'd3', 'cap-msg-id': 'c3', 'content-length': '5' }),
  );
  assert.equal(reasons(parsed), ['E_FRAME_TOO_LARGE: MESSAGE frame discarded: 1209 headers, 209 over maxHeaders 1000']);
  const many = 'MESSAGE\n' + Array.from({ length: 11 }, (_, k) => `h${k}:v\n`).join('') + '\n\0';
  assert.is(parseAll(b(many), { maxHeaders: 10 }).events, 'D');
  assert.is(parseAll(b(many), { maxHeaders: 11 }).events, 'F');
});

test('limits: a header line over maxHeaderLine is skipped unread; the headers to settle the frame are read around it', () => {
  const long = 'x'.repeat(70_000);
  const wire = b(`MESSAGE\r\nsubscription:s1\r\nlong:${long}\r\nack:a4\r\nignored:y\r\n\r\nbody\0`);
  const parsed = parseAll(Buffer.concat([wire, after]));
  assert.equal(parsed.errors, []);
  assert.is(parsed.events, 'DF');
  assert.equal(parsed.discarded[0]!.headers, { subscription: 's1', ack: 'a4' });
  assert.equal(reasons(parsed), [`E_FRAME_TOO_LARGE: MESSAGE frame discarded: a header line of 70005 bytes, ${70005 - 65536} over maxHeaderLine 65536`]);
  // An ack header too long itself is not kept; the receiver falls back to message-id.
  const longAck = parseAll(b(`MESSAGE\nmessage-id:m5\nack:${long}\n\n\0`));
  assert.equal(longAck.discarded[0]!.headers, { 'message-id': 'm5' });
  // A line that never ends costs no memory: it is skipped, not buffered, once it is too long.
  const endless = [b('MESSAGE\nx:'), ...Array.from({ length: 50 }, () => Buffer.alloc(100, 0x61))];
  const open = parseChunks(endless, { maxHeaderLine: 1000 });
  assert.equal(open.errors, []);
  assert.ok(open.maxBuffered <= 1002, `buffered ${open.maxBuffered}`);
  assert.is(open.events, '', 'nothing to report before the frame ends');
});

test('limits: still fatal — a command line over the limit, a content-length line over the limit', () => {
  const longCommand = parseAll(Buffer.concat([Buffer.alloc(5000, 0x41), after]), { maxHeaderLine: 1000 });
  assert.equal(longCommand.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.is(longCommand.events, 'E');
  const longLength = parseAll(b(`MESSAGE\nack:a6\ncontent-length:${'0'.repeat(2000)}5\n\nhello\0RECEIPT\n\n\0`), { maxHeaderLine: 1000 });
  assert.equal(longLength.errors.map((e) => e.code), ['E_FRAME_TOO_LARGE']);
  assert.match(longLength.errors[0]!.message, /content-length header line of 2016 bytes.*its end cannot be found/);
  assert.is(longLength.events, 'E');
  // A repeated content-length is ignored anyway (the first wins): over the limit, it is only skipped.
  const repeated = parseAll(b(`MESSAGE\ncontent-length:1\ncontent-length:${'0'.repeat(2000)}\n\n\0\0`), { maxHeaderLine: 1000 });
  assert.is(repeated.events, 'D');
});

for (const [name, wire] of [
  ['an undefined escape past maxHeaders', `MESSAGE\n${'h:v\n'.repeat(5)}ack:a\\tb\n\n\0`],
  ['a line without a colon after an over-long line', `MESSAGE\nx:${'y'.repeat(200)}\nnocolon\n\n\0`],
  ['a discarded body longer than its content-length', `MESSAGE\ncontent-length:300\n\n${'z'.repeat(301)}\0`],
  ['an invalid content-length past maxHeaders', `MESSAGE\n${'h:v\n'.repeat(5)}content-length:1e3\n\n\0`],
] as const) {
  test(`a syntax error in a frame being discarded is still fatal: ${name}`, () => {
    const parsed = parseAll(Buffer.concat([b(wire), after]), { maxFrameSize: 256, maxHeaders: 4, maxHeaderLine: 128 });
    assert.equal(parsed.errors.map((e) => e.code), ['E_PROTOCOL']);
    assert.is(parsed.events, 'E', 'nothing reported, and nothing after the error');
  });
}

test('a frame exactly at the limits is accepted; one byte, line or header over is discarded, saying by how much', () => {
  const wire = b('SEND\nh:v\n\n');
  const body = Buffer.alloc(100 - wire.length - 1, 0x42);
  const limits = { maxFrameSize: 100, maxHeaders: 1, maxHeaderLine: 4 };
  const parsed = parseAll(Buffer.concat([wire, body, b('\0')]), limits);
  assert.equal(parsed.errors, []);
  assert.is(parsed.frames[0]!.body.length, body.length);
  const over = parseAll(Buffer.concat([wire, body, b('B\0')]), limits);
  assert.equal(reasons(over), ['E_FRAME_TOO_LARGE: SEND frame discarded: 101 bytes, 1 over maxFrameSize 100']);
  assert.is(parseAll(b('SEND\r\nh:vv\r\n\r\n\0'), limits).events, 'F', 'the CR of CR LF is not part of the line');
  assert.equal(reasons(parseAll(b('SEND\r\nh:vvv\r\n\r\n\0'), limits)), ['E_FRAME_TOO_LARGE: SEND frame discarded: a header line of 5 bytes, 1 over maxHeaderLine 4']);
  assert.equal(reasons(parseAll(b('SEND\nh:v\ni:w\n\n\0'), limits)), ['E_FRAME_TOO_LARGE: SEND frame discarded: 2 headers, 1 over maxHeaders 1']);
  assert.equal(
    reasons(parseAll(b(`SEND\nh:vvvvv\ni:w\n\n${'B'.repeat(100)}\0`), limits)),
    ['E_FRAME_TOO_LARGE: SEND frame discarded: a header line of 7 bytes, 3 over maxHeaderLine 4; 2 headers, 1 over maxHeaders 1; 119 bytes, 19 over maxFrameSize 100'],
  );
});

test('the header line whose bytes, its LF included, cross maxFrameSize is the first one past the limit', () => {
  const wire = b('SEND\na:123456\nb:1\nack:x\n\n\0'); // 'SEND\na:123456\n' is 14 bytes, 'b:1\n' takes it to 18
  const at17 = parseAll(wire, { maxFrameSize: 17 });
  assert.equal(at17.discarded[0]!.headers, { a: '123456', ack: 'x' });
  assert.equal(reasons(at17), ['E_FRAME_TOO_LARGE: SEND frame discarded: 26 bytes, 9 over maxFrameSize 17']);
  assert.equal(parseAll(wire, { maxFrameSize: 18 }).discarded[0]!.headers, { a: '123456', b: '1', ack: 'x' });
});

test('frames over each limit, between valid ones, split at every byte offset: the same frames and discards', () => {
  const limits = { maxFrameSize: 256, maxHeaders: 4, maxHeaderLine: 32 };
  const ok = (n: number) => b(`MESSAGE\nack:ok${n}\ncontent-length:3\n\n\0${n}\0\0\n`);
  const stream = Buffer.concat([
    ok(1),
    b('MESSAGE\nh1:1\nh2:2\nh3:3\nh4:4\nack:many\nh5:5\ncontent-length:2\n\n\0\0\0'),
    ok(2),
    b(`MESSAGE\r\nack:long\r\nx:${'y'.repeat(40)}\r\nsubscription:s\r\n\r\n\0`),
    b(`MESSAGE\nack:big-fixed\ncontent-length:300\n\n${'\0'.repeat(300)}\0`),
    ok(3),
    b(`MESSAGE\nack:big-scan\n\n${'z'.repeat(300)}\0\n`),
    b(`MESSAGE\nack:big-head\n${'h:1234567890123456789012345678\n'.repeat(3)}${'i:1234567890123456789012345678\n'.repeat(4)}\n\0`),
    ok(4),
  ]);
  const whole = plain(parseAll(stream, limits));
  assert.is(whole.events, 'FDFDDFDDF');
  assert.equal(whole.discarded.map((d) => d.headers.ack), ['many', 'long', 'big-fixed', 'big-scan', 'big-head']);
  for (let at = 0; at <= stream.length; at++) {
    assert.equal(plain(parseChunks([stream.subarray(0, at), stream.subarray(at)], limits)), whole, `split at byte ${at}`);
  }
  assert.equal(plain(parseChunks(Array.from(stream, (byte) => Buffer.from([byte])), limits)), whole, 'one byte at a time');
});

test.run();

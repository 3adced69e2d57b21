// @offline: no database, no broker
/**
 * Properties of the frame codec, checked by fast-check over generated frames and chunkings:
 * serialize-then-parse gives the frame back; the chunking never changes what is parsed; a frame over a limit,
 * between valid frames, is discarded with its ack header kept while every valid frame around it is parsed, and
 * the parser never holds more than its limits. A failure prints its seed: FC_SEED=<seed> replays it.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isUnescapedCommand } from '../../src/stomp/octets.js';
import { escapeHeader } from '../../src/stomp/escape.js';
import { serializeFrame } from '../../src/stomp/serializer.js';
import { parseAll, parseChunks, plain } from './parse-all.js';

if (process.env.FC_SEED) fc.configureGlobal({ seed: Number(process.env.FC_SEED) });
const RUNS = Number(process.env.FC_RUNS ?? 200);

interface GenFrame {
  command: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Its command and header lines end in CR LF rather than LF. */
  crlf: boolean;
}

/** Any code point but NUL and lone surrogates (UTF-8 cannot carry those), with STOMP's delimiters made frequent. */
const anyChar = fc
  .integer({ min: 1, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));
const char = fc.oneof({ arbitrary: fc.constantFrom(':', '\\', '\r', '\n', 'c', 'n', 'r', '\\n'), weight: 1 }, { arbitrary: anyChar, weight: 3 });
/** CONNECT/CONNECTED headers are not escaped: no CR or LF anywhere, and no colon or backslash in a name. */
const rawValueChar = char.filter((c) => !/[\r\n]/.test(c));
const rawNameChar = char.filter((c) => !/[\r\n:\\]/.test(c));

const text = (unit: fc.Arbitrary<string>, maxLength: number) => fc.string({ unit, maxLength });
/** content-length is the serializer's own: a caller's is ignored. */
const name = (unit: fc.Arbitrary<string>, maxLength: number) => fc.string({ unit, minLength: 1, maxLength }).filter((n) => n !== 'content-length');
const entries = (n: fc.Arbitrary<string>, v: fc.Arbitrary<string>, maxLength: number) =>
  fc.uniqueArray(fc.tuple(n, v), { selector: ([k]) => k, maxLength });
const bytes = (maxLength: number) =>
  fc.array(fc.oneof(fc.constantFrom(0, 10, 13, 58, 92), fc.integer({ min: 0, max: 255 })), { maxLength }).map((b) => Buffer.from(b));

const escapedFrame = (maxHeaders: number, maxChars: number, maxBody: number): fc.Arbitrary<GenFrame> =>
  fc.record({
    command: fc.stringMatching(/^[A-Z]{1,12}$/).filter((c) => !isUnescapedCommand(c)),
    headers: entries(name(char, maxChars), text(char, maxChars), maxHeaders),
    body: bytes(maxBody),
    crlf: fc.boolean(),
  });
const rawFrame: fc.Arbitrary<GenFrame> = fc.record({
  command: fc.constantFrom('CONNECT', 'CONNECTED', 'STOMP'),
  headers: entries(name(rawNameChar, 12), text(rawValueChar, 40), 8),
  body: bytes(256),
  crlf: fc.boolean(),
});
const anyFrame = fc.oneof(escapedFrame(12, 40, 1024), rawFrame);

/** A record that keeps every name as an own header, __proto__ included. */
function record(pairs: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * The serializer ends lines in LF; a peer may use CR LF. Header lines hold no raw LF (escaped, or refused for
 * CONNECT), so the first empty line ends them.
 */
function crlf(frame: Buffer): Buffer {
  const blank = frame.indexOf('\n\n');
  return Buffer.concat([Buffer.from(frame.toString('utf8', 0, blank + 2).replace(/\n/g, '\r\n')), frame.subarray(blank + 2)]);
}

const wire = (f: GenFrame): Buffer => {
  const bytes = serializeFrame(f.command, record(f.headers), f.body);
  return f.crlf ? crlf(bytes) : bytes;
};

/** What parsing `f` must give, in `plain` form. */
const expected = (f: GenFrame) => ({
  command: f.command,
  headers: record(f.body.length ? [...f.headers, ['content-length', String(f.body.length)]] : f.headers),
  body: f.body.toString('hex'),
});

/** Where to cut: anywhere (`n` modulo the length + 1), or next to a delimiter (the `n`-th LF, CR, NUL, colon or backslash, ±1). */
type Cut = { near: boolean; n: number; delta: number };
const cuts = fc.array(fc.record({ near: fc.boolean(), n: fc.nat(), delta: fc.integer({ min: -1, max: 1 }) }), { maxLength: 12 });

/** `bytes` cut at `cuts`: chunk edges next to delimiters are where an incremental parser goes wrong. */
function chunked(bytes: Buffer, cuts: Cut[]): Buffer[] {
  const delimiters: number[] = [];
  bytes.forEach((b, k) => {
    if (b === 0x0a || b === 0x0d || b === 0x00 || b === 0x3a || b === 0x5c) delimiters.push(k);
  });
  const position = (c: Cut): number => {
    if (!c.near || delimiters.length === 0) return c.n % (bytes.length + 1);
    return Math.min(bytes.length, Math.max(0, delimiters[c.n % delimiters.length]! + c.delta));
  };
  const at = [...new Set(cuts.map(position))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, to));
    from = to;
  }
  return chunks;
}

test('round trip: serializeFrame then parse gives back the command, the headers in order, and the body', () => {
  fc.assert(
    fc.property(anyFrame, (f) => {
      const parsed = plain(parseAll(wire(f)));
      assert.equal(parsed.errors, []);
      assert.is(parsed.events, 'F');
      assert.equal(Object.entries(parsed.frames[0]!.headers), Object.entries(expected(f).headers));
      assert.equal(parsed.frames[0], expected(f));
    }),
    { numRuns: RUNS * 2 },
  );
});

test('split points: frames and heart-beats cut anywhere parse as they do whole', () => {
  const eols = fc.constantFrom('', '', '\n', '\r\n', '\n\n');
  fc.assert(
    fc.property(fc.array(fc.tuple(anyFrame, eols), { minLength: 1, maxLength: 5 }), cuts, (frames, at) => {
      const bytes = Buffer.concat(frames.flatMap(([f, eol]) => [wire(f), Buffer.from(eol)]));
      const whole = plain(parseAll(bytes));
      assert.equal(whole.frames, frames.map(([f]) => expected(f)));
      assert.equal(plain(parseChunks(chunked(bytes, at))), whole);
    }),
    { numRuns: RUNS },
  );
});

const LIMITS = { maxFrameSize: 2048, maxHeaders: 32, maxHeaderLine: 128 } as const;

/** Frames well within LIMITS: at most 7 header lines of at most 81 bytes, a body of at most 256. */
const smallFrame = escapedFrame(6, 10, 256);

type Kind = 'maxHeaders' | 'maxHeaderLine' | 'maxFrameSize (content-length)' | 'maxFrameSize (to NUL)' | 'maxFrameSize (headers)';
interface Oversized {
  kind: Kind;
  wire: Buffer;
  /** The headers that must survive the discard. */
  settle: Array<[string, string]>;
}

/** ack always, and some of the other headers a receiver settles a message with; values within the line limit. */
const settleHeaders = fc
  .tuple(
    text(char, 10),
    fc.subarray(['subscription', 'message-id', 'destination', 'dop-msg-id', 'cap-msg-id']),
    fc.array(text(char, 10), { minLength: 5, maxLength: 5 }),
  )
  .map(([ack, names, values]): Array<[string, string]> => [['ack', ack], ...names.map((n, k): [string, string] => [n, values[k]!])]);

/** `fillers` with `settle` put in at `at` (taken modulo the room there is), so it may come after the limit is broken. */
const insertAt = (fillers: Array<[string, string]>, settle: Array<[string, string]>, at: number) => {
  const k = at % (fillers.length + 1);
  return [...fillers.slice(0, k), ...settle, ...fillers.slice(k)];
};
const filler = (count: number, valueChars: number): Array<[string, string]> => Array.from({ length: count }, (_, k) => [`f${k}`, 'v'.repeat(valueChars)]);

const oversized: fc.Arbitrary<Oversized> = fc.oneof(
  fc.tuple(settleHeaders, fc.integer({ min: LIMITS.maxHeaders + 1, max: 80 }), fc.nat(), bytes(200)).map(([settle, count, at, body]) => ({
    kind: 'maxHeaders' as const,
    // The serializer puts content-length last: past the limit, yet it must still be read to find the end.
    wire: serializeFrame('MESSAGE', record(insertAt(filler(count, 3), settle, at)), body),
    settle,
  })),
  fc.tuple(settleHeaders, fc.integer({ min: 0, max: 5 }), fc.nat(), text(char, 50), fc.integer({ min: LIMITS.maxHeaderLine, max: 400 }), bytes(200)).map(
    ([settle, count, at, head, length, body]) => ({
      kind: 'maxHeaderLine' as const,
      wire: serializeFrame('MESSAGE', record(insertAt([...filler(count, 3), ['long', head + 'x'.repeat(length)]], settle, at)), body),
      settle,
    }),
  ),
  fc.tuple(settleHeaders, fc.integer({ min: LIMITS.maxFrameSize, max: 6000 }), bytes(64)).map(([settle, size, seed]) => ({
    kind: 'maxFrameSize (content-length)' as const,
    wire: serializeFrame('MESSAGE', record(settle), Buffer.alloc(size, seed.length ? seed : Buffer.from([0]))),
    settle,
  })),
  fc.tuple(settleHeaders, fc.integer({ min: LIMITS.maxFrameSize, max: 6000 }), fc.integer({ min: 1, max: 255 })).map(([settle, size, fill]) => ({
    kind: 'maxFrameSize (to NUL)' as const,
    // No content-length (the serializer would add one): the body runs to the first NUL.
    wire: Buffer.concat([
      Buffer.from(`MESSAGE\n${settle.map(([k, v]) => `${escapeHeader(k)}:${escapeHeader(v)}\n`).join('')}\n`),
      Buffer.alloc(size, fill),
      Buffer.from([0]),
    ]),
    settle,
  })),
  fc.tuple(settleHeaders, fc.integer({ min: 17, max: 24 }), fc.nat()).map(([settle, count, at]) => ({
    kind: 'maxFrameSize (headers)' as const,
    // Each line within maxHeaderLine, within maxHeaders, yet together over maxFrameSize.
    wire: serializeFrame('MESSAGE', record(insertAt(filler(count, 120), settle, at))),
    settle,
  })),
);

const LIMIT_NAMED: Record<Kind, RegExp> = {
  maxHeaders: /over maxHeaders 32\b/,
  maxHeaderLine: /over maxHeaderLine 128\b/,
  'maxFrameSize (content-length)': /over maxFrameSize 2048$/,
  'maxFrameSize (to NUL)': /over maxFrameSize 2048$/,
  'maxFrameSize (headers)': /over maxFrameSize 2048$/,
};

test('a frame over a limit between valid frames: discarded with its ack kept, every valid frame parsed, memory within the limits, any chunking', () => {
  fc.assert(
    fc.property(fc.array(smallFrame, { maxLength: 3 }), oversized, fc.boolean(), fc.array(smallFrame, { maxLength: 3 }), cuts, (before, bad, badCrlf, after, at) => {
      const bytes = Buffer.concat([...before.map(wire), badCrlf ? crlf(bad.wire) : bad.wire, ...after.map(wire)]);
      const whole = parseAll(bytes, LIMITS);
      const split = parseChunks(chunked(bytes, at), LIMITS);
      for (const parsed of [whole, split]) {
        assert.equal(parsed.errors, []);
        assert.is(parsed.events, 'F'.repeat(before.length) + 'D' + 'F'.repeat(after.length));
        assert.equal(plain(parsed).frames, [...before, ...after].map(expected));
        const discarded = parsed.discarded[0]!;
        assert.is(discarded.command, 'MESSAGE');
        for (const [k, v] of bad.settle) assert.is(discarded.headers[k], v, `${bad.kind}: ${k} kept`);
        assert.is(discarded.reason.code, 'E_FRAME_TOO_LARGE');
        assert.match(discarded.reason.message, LIMIT_NAMED[bad.kind]);
        assert.ok(parsed.maxBuffered <= LIMITS.maxFrameSize, `${bad.kind}: buffered ${parsed.maxBuffered}`);
      }
      assert.equal(plain(split), plain(whole));
    }),
    { numRuns: RUNS * 2 },
  );
});

test.run();

/**
 * The parser fuzz, shared by test/stomp/parser-fuzz.test.ts (10,000 inputs) and
 * scripts/bench/parser-fuzz.bench.ts (1,000,000): seeded mutations of real frames, and the properties
 * every input must keep. `checkInput` returns what went wrong, or undefined.
 */
import { KEPT_WHEN_DISCARDED } from '../../src/stomp/limits.js';
import { serializeFrame } from '../../src/stomp/serializer.js';
import { parseAll, parseChunks, plain, type Parsed } from './parse-all.js';

/** Small, so that mutated inputs break them often. */
export const FUZZ_LIMITS = { maxFrameSize: 2048, maxHeaders: 8, maxHeaderLine: 128 } as const;
/** Far above any input here, except a mutated content-length: what the frames are when nothing is over a limit. */
const ROOMY_LIMITS = { maxFrameSize: 1024 * 1024, maxHeaders: 1_000_000, maxHeaderLine: 1024 * 1024 } as const;

const seeds: Buffer[] = [
  serializeFrame('MESSAGE', { destination: '/queue/a', 'a:b': 'C:\\new', subscription: 's1' }, Buffer.from([0, 1, 0, 10])),
  Buffer.from('CONNECTED\r\nversion:1.2\r\nheart-beat:0,0\r\n\r\n\0\n\n'),
  Buffer.from('ERROR\nmessage:x\n\nbody without length\0'),
  Buffer.from('RECEIPT\nreceipt-id:r1\n\n\0'),
  serializeFrame('MESSAGE', { h: 'x'.repeat(100) }, 'y'.repeat(1500)),
  // Over a limit each: too many headers, a line too long, a body too large with and without content-length.
  serializeFrame('MESSAGE', { ...Object.fromEntries(Array.from({ length: 9 }, (_, k) => [`h${k}`, 'v'])), ack: 'a1' }, Buffer.from([0, 0])),
  serializeFrame('MESSAGE', { subscription: 's1', long: 'z'.repeat(130), ack: 'a2' }),
  serializeFrame('MESSAGE', { ack: 'a3' }, Buffer.alloc(2100, 0x62)),
  Buffer.concat([Buffer.from('MESSAGE\nack:a4\n\n'), Buffer.alloc(2100, 0x63), Buffer.from([0])]),
];

/** One input: random bytes (a quarter of the time), else one to three seed frames with a few edits. */
export function mutate(random: () => number, counts?: { randomInputs: number; seedFrames: number }): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  if (random() < 0.25) {
    if (counts) counts.randomInputs++;
    return Buffer.from(Array.from({ length: pick(600) }, () => pick(256)));
  }
  const frames = 1 + pick(3);
  if (counts) counts.seedFrames += frames;
  let bytes: Buffer = Buffer.concat(Array.from({ length: frames }, () => seeds[pick(seeds.length)]!));
  const insert = (at: number, more: Buffer | number[]): Buffer => Buffer.concat([bytes.subarray(0, at), Buffer.from(more), bytes.subarray(at)]);
  const edits = 1 + pick(6);
  for (let e = 0; e < edits; e++) {
    const at = pick(bytes.length + 1);
    switch (pick(6)) {
      case 0: // flip a byte
        if (at < bytes.length) bytes[at] = pick(256);
        else bytes = insert(at, [pick(256)]);
        break;
      case 1: bytes = insert(at, [[0, 10, 13, 58, 92][pick(5)]!]); break; // insert a delimiter
      case 2: bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(8))]); break; // delete some
      case 3: bytes = bytes.subarray(0, at); break; // truncate
      case 4: { // duplicate a run
        const from = pick(bytes.length);
        const to = pick(bytes.length);
        bytes = insert(at, bytes.subarray(from, Math.max(from, to)));
        break;
      }
      case 5: bytes = insert(at, Buffer.from(String(pick(1e7)))); break; // digits (content-length)
    }
  }
  return bytes;
}

/** Chunks of 1 to 64 bytes. */
export function randomChunks(bytes: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(random() * 64);
    chunks.push(bytes.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

export interface FuzzTally {
  frames: number;
  discarded: number;
  /** Fatal errors. */
  errors: number;
  /** Frames decoded after a discarded one in the same input: the parser went on. */
  framesAfterDiscard: number;
  maxBuffered: number;
}

type Output = { kind: 'F'; command: string; headers: Record<string, string>; body: Buffer } | { kind: 'D'; command: string };

/** Frames and discards in the order they came out. */
function outputs(p: Parsed): Output[] {
  let f = 0;
  let d = 0;
  const out: Output[] = [];
  for (const e of p.events) {
    if (e === 'F') out.push({ kind: 'F', ...p.frames[f++]! });
    else if (e === 'D') out.push({ kind: 'D', command: p.discarded[d++]!.command });
  }
  return out;
}

function checkParsed(p: Parsed): string | undefined {
  const limits = FUZZ_LIMITS;
  if (p.errors.length > 1 || (p.errors.length === 1 && !p.events.endsWith('E'))) return `events ${p.events}: a fatal error must be the last thing reported`;
  for (const e of p.errors) {
    if (/^parser failed/.test(e.message)) return `hit the catch-all: ${e.message}`;
    if (e.code === 'E_FRAME_TOO_LARGE' && !/command line|content-length header line/.test(e.message)) return `a fatal size error that could have been a discard: ${e.message}`;
    if (e.code !== 'E_PROTOCOL' && e.code !== 'E_FRAME_TOO_LARGE') return `error code ${e.code}`;
  }
  if (p.maxBuffered > limits.maxFrameSize) return `buffered ${p.maxBuffered} bytes`;
  for (const f of p.frames) {
    if (f.body.length >= limits.maxFrameSize) return `a frame with a body of ${f.body.length} bytes`;
    if (Object.keys(f.headers).length > limits.maxHeaders) return `a frame with ${Object.keys(f.headers).length} headers`;
  }
  for (const d of p.discarded) {
    if (d.reason.code !== 'E_FRAME_TOO_LARGE' || !/^[A-Z]+ frame discarded: .* over max(FrameSize|Headers|HeaderLine) \d+$/.test(d.reason.message)) {
      return `discarded with ${d.reason.code}: ${d.reason.message}`;
    }
    const names = Object.keys(d.headers);
    if (names.length > limits.maxHeaders + KEPT_WHEN_DISCARDED.size) return `a discarded frame kept ${names.length} headers`;
    // Counted in UTF-16 units, which a decoded line never has more of than bytes on the wire (re-encoding it
    // would not do: each invalid byte decodes to U+FFFD, three bytes).
    for (const name of names) {
      if (name.length + 1 + d.headers[name]!.length > limits.maxHeaderLine) return `a discarded frame kept header ${name} over maxHeaderLine`;
    }
  }
  return undefined;
}

/**
 * Parses `input` whole and in `chunks` with the small limits, and whole with roomy ones; undefined if every
 * property holds. Up to the first fatal error of either, the small-limit parse must report the same frames
 * in the same order, except that it may discard one the roomy parse decoded — never the other way round.
 */
export function checkInput(input: Buffer, chunks: Buffer[], tally: FuzzTally): string | undefined {
  let whole: Parsed;
  let split: Parsed;
  let roomy: Parsed;
  try {
    whole = parseAll(input, FUZZ_LIMITS);
    split = parseChunks(chunks, FUZZ_LIMITS);
    roomy = parseAll(input, ROOMY_LIMITS);
  } catch (e) {
    return `threw out of the parser: ${String(e)}`;
  }
  const problem = checkParsed(whole) ?? checkParsed(split);
  if (problem) return problem;
  const a = plain(split);
  const b = plain(whole);
  if (JSON.stringify(a) !== JSON.stringify(b)) return `chunking changed the outcome:\n  whole ${JSON.stringify(b).slice(0, 2000)}\n  split ${JSON.stringify(a).slice(0, 2000)}`;

  const small = outputs(whole);
  const large = outputs(roomy);
  if (whole.errors.length === 0 && roomy.errors.length === 0 && small.length !== large.length) {
    return `${small.length} frames and discards with the small limits, ${large.length} with roomy ones (${whole.events} vs ${roomy.events})`;
  }
  for (let k = 0; k < Math.min(small.length, large.length); k++) {
    const s = small[k]!;
    const l = large[k]!;
    if (s.command !== l.command) return `output ${k}: ${s.command} with the small limits, ${l.command} with roomy ones`;
    if (s.kind === 'F' && l.kind === 'D') return `output ${k}: decoded with the small limits, discarded with roomy ones`;
    if (s.kind === 'F' && l.kind === 'F' && (JSON.stringify(Object.entries(s.headers)) !== JSON.stringify(Object.entries(l.headers)) || !s.body.equals(l.body))) {
      return `output ${k}: a frame within the small limits decoded differently with roomy ones`;
    }
  }

  tally.frames += whole.frames.length;
  tally.discarded += whole.discarded.length;
  tally.errors += whole.errors.length;
  const firstDiscard = whole.events.indexOf('D');
  if (firstDiscard >= 0) tally.framesAfterDiscard += [...whole.events.slice(firstDiscard)].filter((e) => e === 'F').length;
  tally.maxBuffered = Math.max(tally.maxBuffered, whole.maxBuffered, split.maxBuffered);
  return undefined;
}

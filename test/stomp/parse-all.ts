/** Test support: run the parser over chunks and collect what it emits. */
import type { ParserLimits } from '../../src/stomp/limits.js';
import { createParser } from '../../src/stomp/parser.js';
import type { DiscardedFrame, Frame } from '../../src/stomp/types.js';
import type { OutboxError } from '../../src/errors.js';

export interface Parsed {
  frames: Frame[];
  /** Frames over a limit, skipped. */
  discarded: DiscardedFrame[];
  heartbeats: number;
  errors: OutboxError[];
  /** What came out, in order: F a frame, D a discarded frame, E an error. */
  events: string;
  /** The most the parser held at once between pushes. */
  maxBuffered: number;
}

export function parseChunks(chunks: Buffer[], limits: ParserLimits = {}): Parsed {
  const out: Parsed = { frames: [], discarded: [], heartbeats: 0, errors: [], events: '', maxBuffered: 0 };
  const parser = createParser({
    ...limits,
    onFrame: (f) => {
      out.frames.push(f);
      out.events += 'F';
    },
    onDiscarded: (d) => {
      out.discarded.push(d);
      out.events += 'D';
    },
    onHeartbeat: () => out.heartbeats++,
    onError: (e) => {
      out.errors.push(e);
      out.events += 'E';
    },
  });
  for (const chunk of chunks) {
    parser.push(chunk);
    out.maxBuffered = Math.max(out.maxBuffered, parser.buffered);
  }
  return out;
}

export const parseAll = (bytes: Buffer, limits?: ParserLimits): Parsed => parseChunks([bytes], limits);

/** What came out as plain data, for deep equality (a discard's reason by its message: it holds the figures). */
export const plain = (p: Parsed) => ({
  frames: p.frames.map((f) => ({ command: f.command, headers: { ...f.headers }, body: f.body.toString('hex') })),
  discarded: p.discarded.map((d) => ({ command: d.command, headers: { ...d.headers }, reason: `${d.reason.code}: ${d.reason.message}` })),
  heartbeats: p.heartbeats,
  errors: p.errors.map((e) => e.code),
  events: p.events,
});

/** Deterministic PRNG (mulberry32), so a failing fuzz case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

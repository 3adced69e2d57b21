/** Test support: run the parser over chunks and collect what it emits. */
import { createParser, type ParserLimits } from '../../src/stomp/parser.js';
import type { Frame } from '../../src/stomp/types.js';
import type { OutboxError } from '../../src/errors.js';

export interface Parsed {
  frames: Frame[];
  heartbeats: number;
  errors: OutboxError[];
  /** The most the parser held at once between pushes. */
  maxBuffered: number;
}

export function parseChunks(chunks: Buffer[], limits: ParserLimits = {}): Parsed {
  const out: Parsed = { frames: [], heartbeats: 0, errors: [], maxBuffered: 0 };
  const parser = createParser({
    ...limits,
    onFrame: (f) => out.frames.push(f),
    onHeartbeat: () => out.heartbeats++,
    onError: (e) => out.errors.push(e),
  });
  for (const chunk of chunks) {
    parser.push(chunk);
    out.maxBuffered = Math.max(out.maxBuffered, parser.buffered);
  }
  return out;
}

export const parseAll = (bytes: Buffer, limits?: ParserLimits): Parsed => parseChunks([bytes], limits);

/** Frames as plain data, for deep equality. */
export const plain = (p: Parsed) => ({
  frames: p.frames.map((f) => ({ command: f.command, headers: { ...f.headers }, body: f.body.toString('hex') })),
  heartbeats: p.heartbeats,
  errors: p.errors.map((e) => e.code),
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

/**
 * Fuzzing the parser with random and mutated bytes (seeded, bounded): it never throws, never hits its
 * internal catch-all, stops at the first error, holds no more than its limits, and decodes the same
 * whatever the chunking.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { serializeFrame } from '../../src/stomp/serializer.js';
import { parseAll, parseChunks, plain, prng } from './parse-all.js';

const limits = { maxFrameSize: 2048, maxHeaders: 8, maxHeaderLine: 128 };
const SEED = Number(process.env.FUZZ_SEED ?? 7);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 10000);

const seeds: Buffer[] = [
  serializeFrame('MESSAGE', { destination: '/queue/a', 'a:b': 'C:\\new', subscription: 's1' }, Buffer.from([0, 1, 0, 10])),
  Buffer.from('CONNECTED\r\nversion:1.2\r\nheart-beat:0,0\r\n\r\n\0\n\n'),
  Buffer.from('ERROR\nmessage:x\n\nbody without length\0'),
  Buffer.from('RECEIPT\nreceipt-id:r1\n\n\0'),
  serializeFrame('MESSAGE', { h: 'x'.repeat(100) }, 'y'.repeat(1500)),
];

function mutate(random: () => number): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  if (random() < 0.25) return Buffer.from(Array.from({ length: pick(600) }, () => pick(256)));
  const bytes = [...Buffer.concat(Array.from({ length: 1 + pick(3) }, () => seeds[pick(seeds.length)]!))];
  const edits = 1 + pick(6);
  for (let e = 0; e < edits; e++) {
    const at = pick(bytes.length + 1);
    switch (pick(6)) {
      case 0: bytes[at] = pick(256); break; // flip a byte
      case 1: bytes.splice(at, 0, [0, 10, 13, 58, 92][pick(5)]!); break; // insert a delimiter
      case 2: bytes.splice(at, 1 + pick(8)); break; // delete some
      case 3: bytes.length = at; break; // truncate
      case 4: bytes.splice(at, 0, ...bytes.slice(pick(bytes.length), pick(bytes.length))); break; // duplicate a run
      case 5: bytes.splice(at, 0, ...Buffer.from(String(pick(1e7)))); break; // digits (content-length)
    }
  }
  return Buffer.from(bytes);
}

function randomChunks(bytes: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(random() * 64);
    chunks.push(bytes.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

test(`${ITERATIONS} random and mutated inputs (seed ${SEED}): no throw, bounded memory, chunking-independent`, () => {
  const random = prng(SEED);
  let frames = 0;
  let errors = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(random);
    let whole, split;
    try {
      whole = parseAll(input, limits);
      split = parseChunks(randomChunks(input, random), limits);
    } catch (e) {
      assert.unreachable(`iteration ${i} threw out of the parser: ${String(e)}`);
      return;
    }
    for (const p of [whole, split]) {
      assert.ok(p.errors.length <= 1, `iteration ${i}: one error at most, then it stops`);
      for (const e of p.errors) assert.not.match(e.message, /^parser failed/, `iteration ${i}: hit the catch-all: ${e.message}`);
      assert.ok(p.maxBuffered <= limits.maxFrameSize, `iteration ${i}: buffered ${p.maxBuffered} bytes`);
      for (const f of p.frames) {
        assert.ok(f.body.length < limits.maxFrameSize, `iteration ${i}: body of ${f.body.length}`);
        assert.ok(Object.keys(f.headers).length <= limits.maxHeaders);
      }
    }
    assert.equal(plain(split), plain(whole), `iteration ${i}: chunking changed the outcome`);
    frames += whole.frames.length;
    errors += whole.errors.length;
  }
  // The fuzzer must exercise both paths, or it tests nothing.
  assert.ok(frames > ITERATIONS / 4, `only ${frames} frames decoded`);
  assert.ok(errors > ITERATIONS / 4, `only ${errors} errors raised`);
});

test.run();

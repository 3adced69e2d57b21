// @offline: no database, no broker
/**
 * Fuzzing the parser with random and mutated bytes (seeded, bounded): it never throws, never hits its
 * internal catch-all, stops only at a fatal error, holds no more than its limits, decodes the same whatever
 * the chunking, and finds the same frame boundaries as a parser with roomy limits (frames over the small
 * limits are discarded there, not lost track of). 1,000,000 inputs: scripts/bench/parser-fuzz.bench.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FUZZ_LIMITS, checkInput, mutate, randomChunks, type FuzzTally } from './fuzz.js';
import { prng } from './parse-all.js';

const SEED = Number(process.env.FUZZ_SEED ?? 7);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 10000);

test(`${ITERATIONS} random and mutated inputs (seed ${SEED}): no throw, bounded memory, chunking-independent, resynchronised after discards`, () => {
  const random = prng(SEED);
  const tally: FuzzTally = { frames: 0, discarded: 0, errors: 0, framesAfterDiscard: 0, maxBuffered: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(random);
    const problem = checkInput(input, randomChunks(input, random), tally);
    if (problem) assert.unreachable(`iteration ${i} (seed ${SEED}): ${problem}\ninput (hex): ${input.toString('hex')}`);
  }
  assert.ok(tally.maxBuffered <= FUZZ_LIMITS.maxFrameSize, `buffered ${tally.maxBuffered} bytes`);
  // The fuzzer must exercise every path, or it tests nothing.
  assert.ok(tally.frames > ITERATIONS / 4, `only ${tally.frames} frames decoded`);
  assert.ok(tally.errors > ITERATIONS / 10, `only ${tally.errors} fatal errors raised`);
  assert.ok(tally.discarded > ITERATIONS / 20, `only ${tally.discarded} frames discarded`);
  assert.ok(tally.framesAfterDiscard > ITERATIONS / 100, `only ${tally.framesAfterDiscard} frames decoded after a discard`);
});

test.run();

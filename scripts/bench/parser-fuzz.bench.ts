/**
 * The parser's mutation fuzz at scale: seeded inputs until 1,000,000 real frames have been mutated (an input is one
 * to three frames with a few edits, or, a quarter of the time, random bytes), each parsed whole and in random 1–64 byte chunks with small limits, and whole with roomy ones, every property of
 * test/stomp/fuzz.ts checked on each (no throw, a fatal error only last, discards and not errors for size,
 * chunking-independent, the same frame boundaries as with roomy limits, never more buffered than the limits).
 * Not part of `npm test` (minutes); test/stomp/parser-fuzz.test.ts runs 10,000 inputs of the same. One JSON line; on
 * the first input breaking a property, that input (hex) and the seed, and exit code 1.
 *
 *   npm run bench -- parser-fuzz       PARSER_FUZZ_FRAMES=1000000 PARSER_FUZZ_SEED=1
 */
import { FUZZ_LIMITS, checkInput, mutate, randomChunks, type FuzzTally } from '../../test/stomp/fuzz.js';
import { prng } from '../../test/stomp/parse-all.js';

const FRAMES = Number(process.env.PARSER_FUZZ_FRAMES ?? 1_000_000);
const SEED = Number(process.env.PARSER_FUZZ_SEED ?? 1);
const SAMPLE_EVERY = 10_000;

const random = prng(SEED);
const tally: FuzzTally = { frames: 0, discarded: 0, errors: 0, framesAfterDiscard: 0, maxBuffered: 0 };
const counts = { randomInputs: 0, seedFrames: 0 };
let inputs = 0;
let inputBytes = 0;
const rssStart = process.memoryUsage.rss();
let rssMax = rssStart;
const started = performance.now();
for (let i = 0; counts.seedFrames < FRAMES; i++, inputs++) {
  const input = mutate(random, counts);
  inputBytes += input.length;
  const problem = checkInput(input, randomChunks(input, random), tally);
  if (problem) {
    console.log(JSON.stringify({ bench: 'parser-fuzz', error: problem, input: i, seed: SEED, hex: input.toString('hex') }));
    process.exit(1);
  }
  if (i % SAMPLE_EVERY === 0) rssMax = Math.max(rssMax, process.memoryUsage.rss());
}
const seconds = (performance.now() - started) / 1000;
rssMax = Math.max(rssMax, process.memoryUsage.rss());

console.log(
  JSON.stringify({
    bench: 'parser-fuzz',
    figure: 'mutated_frames_checked',
    value: counts.seedFrames,
    unit: 'frames',
    seconds: Math.round(seconds * 10) / 10,
    seed: SEED,
    inputs,
    randomInputs: counts.randomInputs,
    inputMiB: Math.round((inputBytes / 1024 / 1024) * 10) / 10,
    framesDecoded: tally.frames,
    framesDiscarded: tally.discarded,
    framesDecodedAfterADiscard: tally.framesAfterDiscard,
    fatalErrors: tally.errors,
    maxBufferedBytes: tally.maxBuffered,
    limits: FUZZ_LIMITS,
    maxRssGrowthMiB: Math.round(((rssMax - rssStart) / 1024 / 1024) * 10) / 10,
  }),
);

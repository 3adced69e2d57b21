/**
 * The frame parser's throughput on its own: 1,000,000 small MESSAGE frames (RabbitMQ's headers, a 200-byte JSON
 * body with content-length, ~490 bytes a frame) fed from memory in 64 KiB chunks, as a socket delivers them.
 * No broker, no I/O: this is the parser's ceiling, the figure to compare before and after a parser change.
 * A warm-up, then rounds; the medians are printed as one JSON line: frames per wall-clock second, and per second
 * of CPU time this process used, which a busy shared machine disturbs less.
 *
 * PARSER_BASELINE names another copy of parser.ts to compare with in the same process: each round then runs both,
 * in alternating order, and `ratioToBaseline` is the median of the rounds' CPU-time ratios — on a shared machine
 * the only comparison steadier than the load (separate runs of the same code differed by 2×). PARSER_MODULE
 * replaces the parser measured.
 *
 *   npm run bench -- parser-throughput      PARSER_BENCH_FRAMES=1000000 PARSER_BENCH_ROUNDS=5
 *   mkdir -p tmp/base && git archive <commit> src | tar -x -C tmp/base
 *   PARSER_BASELINE=tmp/base/src/stomp/parser.ts PARSER_BENCH_FRAMES=200000 PARSER_BENCH_ROUNDS=40 \
 *     node --import tsx scripts/bench/parser-throughput.bench.ts
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { createParser as CreateParser } from '../../src/stomp/parser.js';
import { serializeFrame } from '../../src/stomp/serializer.js';

const FRAMES = Number(process.env.PARSER_BENCH_FRAMES ?? 1_000_000);
const ROUNDS = Number(process.env.PARSER_BENCH_ROUNDS ?? 5);
const CHUNK = 64 * 1024;
/** Frames in the block that is fed over and over (a 1M-frame buffer would only measure page faults). */
const BLOCK_FRAMES = 10_000;

type Create = typeof CreateParser;
const load = async (path: string): Promise<Create> => ((await import(pathToFileURL(resolve(path)).href)) as { createParser: Create }).createParser;
const createParser = await load(process.env.PARSER_MODULE ?? new URL('../../src/stomp/parser.ts', import.meta.url).pathname);
const baseline = process.env.PARSER_BASELINE ? await load(process.env.PARSER_BASELINE) : undefined;

const frames: Buffer[] = [];
for (let i = 0; i < BLOCK_FRAMES; i++) {
  const id = `${i.toString(16).padStart(8, '0')}-7c1e-4b8e-9c2a-5d0f3e6a1b2c`;
  frames.push(
    serializeFrame(
      'MESSAGE',
      {
        subscription: 's1',
        destination: '/queue/orders',
        'message-id': `T_s1@@session-Xq3v@@${i + 1}`,
        redelivered: 'false',
        ack: `T_s1@@session-Xq3v@@1@@${i + 1}`,
        persistent: 'true',
        'content-type': 'application/json',
        'dop-msg-id': id,
        'dop-msg-type': 'Published',
      },
      JSON.stringify({ id, pad: 'x'.repeat(160) }),
    ),
  );
}
const block = Buffer.concat(frames);
const chunks: Buffer[] = [];
for (let at = 0; at < block.length; at += CHUNK) chunks.push(block.subarray(at, at + CHUNK));
const blocks = Math.ceil(FRAMES / BLOCK_FRAMES);

function round(create: Create): { seconds: number; cpuSeconds: number; frames: number } {
  let parsed = 0;
  let bodyBytes = 0;
  const parser = create({
    onFrame: (f) => {
      parsed++;
      bodyBytes += f.body.length;
    },
    onDiscarded: () => {
      throw new Error('a frame was discarded');
    },
    onError: (e) => {
      throw e;
    },
  });
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let b = 0; b < blocks; b++) for (const chunk of chunks) parser.push(chunk);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  if (parsed !== blocks * BLOCK_FRAMES || bodyBytes === 0) throw new Error(`parsed ${parsed} frames`);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, frames: parsed };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

// Warm-up: gets the parsers optimised.
round(createParser);
if (baseline) round(baseline);
const rates: number[] = [];
const cpuRates: number[] = [];
const baselineCpuRates: number[] = [];
const ratios: number[] = [];
let total = 0;
for (let r = 0; r < ROUNDS; r++) {
  const before = baseline && r % 2 === 1 ? round(baseline) : undefined;
  const { seconds, cpuSeconds, frames: n } = round(createParser);
  rates.push(n / seconds);
  cpuRates.push(n / cpuSeconds);
  total = n;
  if (baseline) {
    const other = before ?? round(baseline);
    baselineCpuRates.push(other.frames / other.cpuSeconds);
    ratios.push(n / cpuSeconds / (other.frames / other.cpuSeconds));
  }
}
const rate = median(rates);
const sortedRatios = [...ratios].sort((a, b) => a - b);
const compared = baseline
  ? {
      baseline: process.env.PARSER_BASELINE,
      baselineFramesPerCpuSecond: Math.round(median(baselineCpuRates)),
      ratioToBaseline: Math.round(median(ratios) * 1000) / 1000,
      ratioQuartiles: [sortedRatios[Math.floor(ratios.length / 4)]!, sortedRatios[Math.floor((ratios.length * 3) / 4)]!].map((q) => Math.round(q * 1000) / 1000),
    }
  : {};
console.log(
  JSON.stringify({
    bench: 'parser',
    figure: 'parse_message_frames',
    value: Math.round(rate),
    unit: 'frames/s',
    mbPerSecond: Math.round(((rate * block.length) / BLOCK_FRAMES / 1e6) * 10) / 10,
    frames: total,
    frameBytes: Math.round(block.length / BLOCK_FRAMES),
    chunkBytes: CHUNK,
    rounds: ROUNDS,
    samples: rates.map(Math.round),
    framesPerCpuSecond: Math.round(median(cpuRates)),
    cpuSamples: cpuRates.map(Math.round),
    parser: process.env.PARSER_MODULE ?? 'src/stomp/parser.ts',
    ...compared,
  }),
);

/**
 * Our STOMP client's pipelined `send` throughput (receipt on every SEND, persistent, ~200-byte bodies, window
 * 500) against the raw ceiling (lib/raw-ceiling.ts) on the same broker and destination, in the same run.
 * Runs alternate raw, client, raw, client… and the medians are compared, so drift in the machine's load
 * hits both. Prints one JSON line per figure; the target ratio is ≥ 0.9.
 *
 *   npm run bench -- stomp        STOMP_BENCH_COUNT=20000 STOMP_BENCH_ROUNDS=3
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { rawCeiling } from './lib/raw-ceiling.js';

const COUNT = Number(process.env.STOMP_BENCH_COUNT ?? 15_000);
const ROUNDS = Number(process.env.STOMP_BENCH_ROUNDS ?? 5);
const WINDOW = 500;
const BODY_SIZE = 200;

const queue = `bench-stomp-${randomBytes(4).toString('hex')}`;
const destination = `/queue/${queue}`;
const rabbitmqctl = (...args: string[]): string => execFileSync('rabbitmqctl', ['-q', ...args], { encoding: 'utf8' });
const body = JSON.stringify({ pad: 'x'.repeat(BODY_SIZE - 10) });

async function clientRun(count = COUNT): Promise<number> {
  const broker = { ...resolveConfig({}, {}).broker, heartbeat: [0, 0] as [number, number] };
  const session = await connect({ broker, logger: silentLogger, window: WINDOW });
  try {
    const headers = { persistent: 'true' };
    const started = performance.now();
    const sends: Promise<void>[] = new Array(count);
    for (let i = 0; i < count; i++) sends[i] = session.send(destination, body, { headers });
    await Promise.all(sends);
    return count / ((performance.now() - started) / 1000);
  } finally {
    await session.disconnect();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const print = (figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'stomp', figure, value: Math.round(value * 1000) / 1000, unit, ...extra }));

try {
  // Warm-up: declares the queue, lets the broker's message store settle, and gets both paths compiled.
  await rawCeiling({ destination, count: 5_000, window: WINDOW, bodySize: BODY_SIZE });
  await clientRun(5_000);
  rabbitmqctl('purge_queue', queue);
  const raw: number[] = [];
  const client: number[] = [];
  const runRaw = async (): Promise<void> => {
    raw.push((await rawCeiling({ destination, count: COUNT, window: WINDOW, bodySize: BODY_SIZE })).rate);
    rabbitmqctl('purge_queue', queue);
  };
  const runClient = async (): Promise<void> => {
    client.push(await clientRun());
    rabbitmqctl('purge_queue', queue);
  };
  // Which goes first alternates too, so neither always inherits the other's after-effects.
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      await runRaw();
      await runClient();
    } else {
      await runClient();
      await runRaw();
    }
  }
  const rawMedian = median(raw);
  const clientMedian = median(client);
  // Each round's pair ran back to back under the same load: their ratio is the steadier figure.
  const pairRatios = raw.map((r, i) => client[i]! / r);
  const runs = { messages: COUNT, rounds: ROUNDS, window: WINDOW, bodyBytes: BODY_SIZE };
  print('raw_ceiling_send_confirmed', rawMedian, 'msg/s', { ...runs, samples: raw.map(Math.round) });
  print('client_send_confirmed', clientMedian, 'msg/s', { ...runs, samples: client.map(Math.round) });
  print('client_vs_raw_ratio', clientMedian / rawMedian, 'ratio', { target: 0.9, medianOfPairRatios: Math.round(median(pairRatios) * 1000) / 1000 });
} finally {
  try {
    rabbitmqctl('delete_queue', queue);
  } catch {
    /* never declared */
  }
}

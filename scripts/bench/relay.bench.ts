/**
 * Relay benchmarks, all in one run against the same broker. One JSON line per figure:
 *
 * - throughput: a pre-inserted backlog (default 20,000 rows) → all `sent`, msg/s, 3 runs, beside the raw
 *   STOMP ceiling measured in the same run (pipelined persistent SENDs with a receipt on every SEND, same
 *   window, same frame size, a bare socket, no database). Target: relay ≥ 0.7 × ceiling.
 * - latency: relay idle, commits at a steady 200/s; commit start → message received by a subscriber,
 *   p50/p95/p99 over 3 runs. Target: p99 < 50 ms.
 * - memory: RSS of an `outbox relay` process (its own process, so nothing else is counted) while it
 *   drains a 200,000-row backlog, sampled every 250 ms. Target: flat (bounded by batch size, not backlog).
 *
 *   npm run bench -- relay     # BENCH_RELAY_ROWS, BENCH_RELAY_MEMORY_ROWS, BENCH_RELAY_LATENCY_SECONDS
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { outboxPublished } from '../../src/db/tables.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { sendBody } from '../../src/wire/body.js';
import { sendHeaders } from '../../src/wire/headers.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { insertBacklog, rowHeaders, testConfig } from '../../test/relay/rows.js';
import { writeConfigFile } from '../../test/relay/support.js';
import { rawCeiling } from './lib/raw-ceiling.js';
import { sameFramesCeiling as sameFrames } from './lib/same-frames-ceiling.js';
import { timedDrain } from './lib/timed-drain.js';

const ROWS = Number(process.env.BENCH_RELAY_ROWS ?? 20_000);
const MEMORY_ROWS = Number(process.env.BENCH_RELAY_MEMORY_ROWS ?? 200_000);
const LATENCY_SECONDS = Number(process.env.BENCH_RELAY_LATENCY_SECONDS ?? 5);
const RATE = 200;
const RUNS = 3;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'relay', ...o }));

/** THE CEILING (scripts/bench/lib/same-frames-ceiling.ts): the relay's exact frames on a bare socket, no database. */
async function sameFramesCeiling(messages: number): Promise<number> {
  const queue = uniqueName('bench-ceiling');
  const rate = await sameFrames({ host: STOMP_HOST, port: STOMP_PORT, destination: `/queue/${queue}`, messages });
  deleteQueue(queue);
  return rate;
}

/** The shared generic ceiling (scripts/bench/lib/raw-ceiling.ts: 4 headers, padded body), for comparison with the STOMP bench. */
async function genericCeiling(messages: number): Promise<number> {
  const queue = uniqueName('bench-generic');
  const { rate } = await rawCeiling({ destination: `/queue/${queue}`, count: messages, window: 500, bodySize: 430 });
  deleteQueue(queue);
  return rate;
}

/** Our STOMP client alone, no database: the same frames the relay sends, pipelined through the same window. */
async function clientCeiling(messages: number): Promise<number> {
  const queue = uniqueName('bench-client');
  const destination = `/queue/${queue}`;
  const session = await connect({ broker: testConfig('postgres://unused').broker, logger: silentLogger, window: 500 });
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let n = 0; n < messages; n++) {
    sends.push(session.send(destination, sendBody({ n, pad: 'x'.repeat(100) }), { headers: sendHeaders(rowHeaders(randomUUID(), destination)) }));
  }
  await Promise.all(sends);
  const rate = messages / ((performance.now() - started) / 1000);
  await session.disconnect();
  deleteQueue(queue);
  return rate;
}

/** One relay draining a pre-inserted backlog; msg/s from start to the last row marked. */
const relayThroughput = (t: TestDatabase): Promise<number> =>
  timedDrain(t, { rows: ROWS, config: testConfig(t.url), name: 'bench-relay', fill: (destination) => insertBacklog(t.sql, destination, ROWS) });

/** Steady commits at RATE/s into an idle relay; latency from the commit's start to the subscriber. */
async function latency(t: TestDatabase): Promise<number[]> {
  const queue = uniqueName('bench-latency');
  const destination = `/queue/${queue}`;
  await t.sql`truncate outbox_published`;
  const config = testConfig(t.url);
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const subscriber = await connect({ broker: config.broker, logger: silentLogger });
  subscriber.subscribe(destination, { ack: 'auto', durable: 'true', 'auto-delete': 'false' }, (m) => {
    const at = committedAt.get(m.headers['dop-msg-id'] ?? '');
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  await new Promise((r) => setTimeout(r, 500)); // connected and idle
  const total = LATENCY_SECONDS * RATE;
  const start = performance.now();
  const commits: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = randomUUID();
    committedAt.set(id, performance.now());
    commits.push(t.db.insert(outboxPublished).values({ id, destination, body: { i, note: 'x'.repeat(100) }, headers: rowHeaders(id, destination) }).execute());
  }
  await Promise.all(commits);
  await waitFor(() => latencies.length >= total, 30_000, 20);
  await relay.stop();
  await running;
  await subscriber.disconnect();
  deleteQueue(queue);
  return latencies;
}

/** RSS (MB) of a process, from /proc. */
function rssMB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `outbox relay` in its own process draining MEMORY_ROWS; RSS sampled every 250 ms. */
async function memory(t: TestDatabase): Promise<Record<string, unknown>> {
  const queue = uniqueName('bench-memory');
  await t.sql`truncate outbox_published`;
  await insertBacklog(t.sql, `/queue/${queue}`, MEMORY_ROWS);
  await t.sql`vacuum analyze outbox_published`;
  const file = writeConfigFile({ database: { url: t.url }, relay: { progressInterval: 0 } });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'relay', '--config', file.path], {
    env: { ...process.env, NO_COLOR: '1', DATABASE_URL: '', OUTBOX_BROKER_URL: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const samples: Array<{ s: number; sent: number; rss: number }> = [];
  const started = performance.now();
  let drained = 0;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const rss = rssMB(child.pid!);
      const [r] = await t.sql`select count(*)::int as n from outbox_published where status = 'pending'`;
      const sent = MEMORY_ROWS - r!.n;
      if (rss !== undefined) samples.push({ s: round((performance.now() - started) / 1000, 2), sent, rss: round(rss) });
      if (r!.n === 0) {
        drained = (performance.now() - started) / 1000;
        break;
      }
      if (performance.now() - started > 180_000) throw new Error(`memory run: ${sent} of ${MEMORY_ROWS} sent after 180 s`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    file.remove();
    deleteQueue(queue);
  }
  // Flat = the RSS once the relay is busy (first 10% of the backlog) vs. the most it ever used.
  const warm = samples.find((x) => x.sent >= MEMORY_ROWS * 0.1) ?? samples[0]!;
  const max = Math.max(...samples.map((x) => x.rss));
  const last = samples[samples.length - 1]!;
  // Least-squares slope of RSS against rows sent, after warm-up: ~0 when memory does not follow the backlog
  // (the GC sawtooth is noise around a flat line).
  const busy = samples.filter((x) => x.sent >= warm.sent);
  const mx = busy.reduce((a, x) => a + x.sent, 0) / busy.length;
  const my = busy.reduce((a, x) => a + x.rss, 0) / busy.length;
  const slope = busy.reduce((a, x) => a + (x.sent - mx) * (x.rss - my), 0) / Math.max(1, busy.reduce((a, x) => a + (x.sent - mx) ** 2, 0));
  return {
    backlog: MEMORY_ROWS,
    drain_s: round(drained),
    msg_per_s: Math.round(MEMORY_ROWS / drained),
    rss_mb: { at_10pct: warm.rss, max, at_end: last.rss },
    growth_after_warmup_mb: round(max - warm.rss),
    slope_mb_per_100k_rows: round(slope * 100_000, 2),
    samples: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 20)) === 0).map((x) => [x.s, x.sent, x.rss]),
    samples_format: '[seconds, rows sent, rss MB]',
  };
}

const t = await createTestDatabase();
try {
  const relayRuns: number[] = [];
  const ceilingRuns: number[] = [];
  const genericRuns: number[] = [];
  const clientRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so machine noise hits all of them alike.
    ceilingRuns.push(await sameFramesCeiling(ROWS));
    genericRuns.push(await genericCeiling(ROWS));
    clientRuns.push(await clientCeiling(ROWS));
    relayRuns.push(await relayThroughput(t));
  }
  const relay = stats(relayRuns.map(Math.round));
  const ceiling = stats(ceilingRuns.map(Math.round));
  const generic = stats(genericRuns.map(Math.round));
  const client = stats(clientRuns.map(Math.round));
  emit({
    figure: 'throughput',
    messages: ROWS,
    unit: 'msg/s',
    relay,
    ceiling,
    ratio: round(relay.median / ceiling.median, 2),
    ratio_per_run: relayRuns.map((r, i) => round(r / ceilingRuns[i]!, 2)),
    target: 'ratio >= 0.7',
    stomp_client_alone: client,
    ratio_to_client: round(relay.median / client.median, 2),
    generic_ceiling: generic,
    ratio_to_generic: round(relay.median / generic.median, 2),
    note:
      "ceiling: bare socket, the relay's exact frames (10 headers), persistent, receipt on each, window 500, no database; " +
      'generic_ceiling: scripts/bench/lib/raw-ceiling.ts (4 headers, body padded to the same frame size); ' +
      "stomp_client_alone: our STOMP client sending the relay's frames, no database",
  });

  const runs: Array<{ p50: number; p95: number; p99: number; n: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    const sorted = (await latency(t)).sort((a, b) => a - b);
    runs.push({ p50: round(pct(sorted, 50)), p95: round(pct(sorted, 95)), p99: round(pct(sorted, 99)), n: sorted.length });
  }
  emit({
    figure: 'latency',
    rate_per_s: RATE,
    unit: 'ms',
    p50: stats(runs.map((r) => r.p50)),
    p95: stats(runs.map((r) => r.p95)),
    p99: stats(runs.map((r) => r.p99)),
    runs,
    target: 'p99 < 50 ms',
    note: 'commit start → MESSAGE at a subscriber; the Django relay polls once a second',
  });

  emit({ figure: 'memory', ...(await memory(t)), target: 'flat: bounded by relay.batchSize, not by the backlog' });
} finally {
  await t.drop();
}

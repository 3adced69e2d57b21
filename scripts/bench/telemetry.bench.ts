/**
 * What telemetry costs (README "Telemetry"): relay and consumer throughput with an OpenTelemetry SDK
 * registered — tracing (BatchSpanProcessor into the in-memory exporter, the async-hooks context manager)
 * and metrics (a MeterProvider whose reader is collected after each run) — against the same with nothing
 * registered (the library's hooks then find only the API's no-ops), in one run. Runs interleave, off and on
 * in alternating order, medians of RUNS each. Every row and message carries a `traceparent`, as one written
 * inside a span would. Target: cost = 1 − on/off < 0.10 for both.
 *
 *   npm run bench -- telemetry     # BENCH_TELEMETRY_ROWS (relay, 10,000), BENCH_TELEMETRY_MESSAGES (consumer, 2,000), BENCH_TELEMETRY_RUNS (5)
 *   BENCH_TELEMETRY_FIGURES=hooks,consumer BENCH_TELEMETRY_CONTEXT_MANAGER=0 npx tsx scripts/bench/telemetry.bench.ts
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { sql } from 'drizzle-orm';
import { resolveConfig } from '../../src/config/resolve.js';
import { createConsumer } from '../../src/consumer/consumer.js';
import { subscribeHeaders } from '../../src/consumer/subscription.js';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { openDatabase } from '../../src/db/open.js';
import { silentLogger } from '../../src/log/logger.js';
import { watchDelivery } from '../../src/telemetry/delivery.js';
import { createConsumerMetrics, createRelayMetrics } from '../../src/telemetry/metrics.js';
import { startSendSpan } from '../../src/telemetry/trace.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, rabbitmqctl, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { insertBacklog, testConfig } from '../../test/relay/rows.js';
import { timedDrain } from './lib/timed-drain.js';

const ROWS = Number(process.env.BENCH_TELEMETRY_ROWS ?? 10_000);
const MESSAGES = Number(process.env.BENCH_TELEMETRY_MESSAGES ?? 2_000);
const RUNS = Number(process.env.BENCH_TELEMETRY_RUNS ?? 5);
const FIGURES = (process.env.BENCH_TELEMETRY_FIGURES ?? 'hooks,relay,consumer').split(',');
/** `0`: the SDK without the async-hooks context manager, to tell its cost from the library's hooks. */
const CONTEXT_MANAGER = process.env.BENCH_TELEMETRY_CONTEXT_MANAGER !== '0';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'telemetry', ...o }));
const traceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** Registers the SDK; returns what to call to take it away again (and how many spans it exported). */
function enable(): () => Promise<number> {
  const spans = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 60_000 });
  const meter = new MeterProvider({ readers: [reader] });
  if (CONTEXT_MANAGER) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracer);
  metrics.setGlobalMeterProvider(meter);
  return async () => {
    // Collecting is part of the cost: it runs the backlog query and walks every series.
    await reader.forceFlush();
    await tracer.forceFlush();
    const exported = spans.getFinishedSpans().length;
    await Promise.all([tracer.shutdown(), meter.shutdown()]);
    trace.disable();
    metrics.disable();
    context.disable();
    return exported;
  };
}

/** A relay draining a ROWS-row backlog (each row with a traceparent): msg/s. */
const relayRun = (t: TestDatabase): Promise<number> =>
  timedDrain(t, {
    rows: ROWS,
    config: testConfig(t.url),
    name: 'bench-telemetry-relay',
    async fill(destination) {
      await insertBacklog(t.sql, destination, ROWS);
      await t.sql`update outbox_published set headers = headers || jsonb_build_object('traceparent', ${traceparent()}::text)`;
    },
  });

function depth(queue: string): number {
  const line = rabbitmqctl('list_queues', 'name', 'messages', '--no-table-headers').split('\n').find((l) => l.trim().split(/\s+/)[0] === queue);
  return line ? Number(line.trim().split(/\s+/)[1]) : -1;
}

/** A consumer (`(payload, { tx })` on node-postgres, as `outbox consume` runs it) draining MESSAGES: msg/s. */
async function consumerRun(t: TestDatabase): Promise<number> {
  const queue = uniqueName('bench-telemetry-consume');
  const config = resolveConfig({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] } }, {});
  const s = await connect({ broker: config.broker, logger: silentLogger, window: 500 });
  s.subscribe(`/topic/${queue}`, { ...subscribeHeaders(config.consumer, queue), 'prefetch-count': '1' }, () => {}, 'declare');
  await s.disconnect();
  const pub = await connect({ broker: config.broker, logger: silentLogger, window: 500 });
  const body = JSON.stringify({ total: '123.45', note: 'x'.repeat(120) });
  const sends: Promise<void>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const headers = { persistent: 'true', 'content-type': 'application/json', 'dop-msg-id': randomUUID(), traceparent: traceparent() };
    sends.push(pub.send(`/topic/${queue}`, body, { headers }));
  }
  await Promise.all(sends);
  await pub.disconnect();
  await waitFor(() => depth(queue) === MESSAGES, 30_000, 100);

  const pg = await openDatabase(config, { poolSize: 2 * config.consumer.concurrency + 2, connectTimeout: 10 });
  let started = 0;
  const consumer = createConsumer({
    db: pg.db,
    config,
    destination: `/topic/${queue}`,
    queue,
    logger: silentLogger,
    handler: async (p: Payload<{ total: string }>, { tx }: HandlerContext) => {
      if (!started) started = performance.now();
      await tx.execute(sql`insert into bench_orders (message_id, total) values (${p.messageId}, ${p.body.total})`);
    },
  });
  const running = consumer.run();
  await waitFor(() => consumer.stats().acked >= MESSAGES, 300_000, 5);
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  await running;
  await pg.close();
  deleteQueue(queue);
  deleteQueue(`DLQ.${queue}`);
  if (consumer.stats().acked !== MESSAGES) throw new Error(`unexpected outcomes: ${JSON.stringify(consumer.stats())}`);
  return MESSAGES / seconds;
}

/**
 * RUNS rounds of one run off and one on, in alternating order (neither side always runs on a warmer, or more
 * crowded, machine). Besides the medians of msg/s: the median of each round's on/off ratio (a round's two
 * runs share the machine's mood, so this drifts less on a shared machine), and this process's CPU time per
 * message (the relay or consumer and the SDK run here; PostgreSQL and RabbitMQ do not), which other work on
 * the machine hardly moves.
 */
/**
 * The hooks alone, no I/O: what the relay adds per row sent (span + counters) and the consumer per delivery
 * (span, context, counters), CPU µs per message with the SDK registered minus without. Tells the library's
 * own share from that of the SDK's context manager, which taxes every promise of the process.
 */
async function hooks(): Promise<void> {
  const N = 20_000;
  const rows = Array.from({ length: N }, () => ({ id: randomUUID(), destination: '/queue/x', headers: { traceparent: traceparent() } }));
  const cpu = async (work: () => Promise<void>) => {
    const before = process.cpuUsage();
    await work();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / N;
  };
  const relaySide = async () => {
    const m = createRelayMetrics();
    for (const row of rows) {
      const span = startSendSpan(row, 200);
      await Promise.resolve();
      m.sent(row.destination, 0.002);
      span.end();
    }
  };
  const consumerSide = async () => {
    const m = createConsumerMetrics('q', () => 0);
    for (const row of rows) {
      const watch = watchDelivery(m, { destination: '/topic/x', 'dop-msg-id': row.id, traceparent: row.headers.traceparent }, { destination: '/topic/x', queue: 'q' });
      await watch.run(() => Promise.resolve());
      watch.settled('acked');
      watch.done();
    }
    m.close();
  };
  const result: Record<string, { off: number[]; on: number[] }> = { relay: { off: [], on: [] }, consumer: { off: [], on: [] } };
  for (let i = 0; i < RUNS; i++) {
    result.relay!.off.push(await cpu(relaySide));
    result.consumer!.off.push(await cpu(consumerSide));
    const disable = enable();
    result.relay!.on.push(await cpu(relaySide));
    result.consumer!.on.push(await cpu(consumerSide));
    await disable();
  }
  for (const [side, r] of Object.entries(result)) {
    emit({ figure: `${side} hooks alone, CPU µs per message`, off_us: round(median(r.off), 1), on_us: round(median(r.on), 1), added_us: round(median(r.on) - median(r.off), 1), context_manager: CONTEXT_MANAGER });
  }
}

async function compare(figure: string, t: TestDatabase, run: (t: TestDatabase) => Promise<number>, messages: number): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  const cpu = { off: [] as number[], on: [] as number[] };
  let spans = 0;
  const measured = async (side: 'off' | 'on') => {
    const before = process.cpuUsage();
    const rate = await run(t);
    const used = process.cpuUsage(before);
    cpu[side].push((used.user + used.system) / messages);
    (side === 'off' ? off : on).push(rate);
  };
  for (let i = 0; i < RUNS; i++) {
    for (const enabled of i % 2 === 0 ? [false, true] : [true, false]) {
      if (!enabled) {
        await measured('off');
        continue;
      }
      const disable = enable();
      await measured('on');
      spans = await disable();
    }
  }
  const cost = 1 - median(on) / median(off);
  emit({
    figure,
    off_msg_s: round(median(off)),
    on_msg_s: round(median(on)),
    off_runs: off.map((x) => round(x)),
    on_runs: on.map((x) => round(x)),
    paired_cost: round(1 - median(on.map((x, k) => x / off[k]!)), 3),
    cpu_us_per_msg: { off: round(median(cpu.off), 1), on: round(median(cpu.on), 1) },
    spans_last_run: spans,
    cost: round(cost, 3),
    context_manager: CONTEXT_MANAGER,
    target: '< 0.10',
    met: cost < 0.1,
  });
}

if (FIGURES.includes('hooks')) await hooks();
const t = await createTestDatabase();
try {
  await t.sql`create table bench_orders (message_id text primary key, total numeric not null)`;
  if (FIGURES.includes('relay')) await compare('relay throughput, telemetry on vs off', t, relayRun, ROWS);
  if (FIGURES.includes('consumer')) await compare('consumer throughput, telemetry on vs off', t, consumerRun, MESSAGES);
} finally {
  await t.drop();
}

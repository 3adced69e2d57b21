/**
 * Consumer throughput against the database bound, in one run. The bound is the handler's transaction alone
 * (a business insert and the inbox insert `payload.save(tx)` runs, BEGIN … COMMIT), as many at once as the
 * consumer's concurrency, with no broker. Beside it the consumer handling pre-filled persistent messages
 * with that same transaction, in both handler forms: `(payload, { tx })` (the consumer opens and commits the
 * transaction, as `outbox consume` runs it) and `(payload)` (the handler opens its own and calls
 * `save(tx)`). And a bare subscriber doing the same work with none of the consumer's rules (bareSubscriber):
 * how close any consumer gets here once the broker's part is paid for; `bare_ratio` is a form's throughput
 * against it. Concurrency 1 (prefetch 1, the default, and 2) and 16 (prefetch 32); each figure is the median
 * of BENCH_CONSUME_REPEATS interleaved repeats (the four in a rotating order), with its range.
 *
 * Everything runs on one node-postgres pool, whose `Client.prototype.query` is wrapped here (in the bench
 * only) to count statements: each is one round trip. The consumer's own round trips per message are the
 * statements it issued per message beyond those of the bound's transaction (BEGIN, two inserts, COMMIT):
 * negative when it needs fewer (its BEGIN travels with its inbox insert, one statement for node-postgres).
 * `node_cpu_ms_per_msg` is this process's CPU per message (the bound's beside it), `pg_cpu_ms_per_msg` and
 * `broker_cpu_ms_per_msg` PostgreSQL's and RabbitMQ's in the same span (lib/process-cpu.ts): on two cores
 * the consumer's CPU, the broker's and PostgreSQL's come out of one budget, which the bound spends on
 * PostgreSQL and this process alone.
 *
 *   flock /work/locks/bench.lock npm run bench -- consume   # BENCH_CONSUME_MESSAGES=3000, BENCH_CONSUME_REPEATS=5
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { resolveConfig, type ResolvedConfig } from '../../src/config/resolve.js';
import { createConsumer } from '../../src/consumer/consumer.js';
import { inboxStatements } from '../../src/consumer/sql.js';
import { subscribeHeaders } from '../../src/consumer/subscription.js';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { openDatabase } from '../../src/db/open.js';
import { createOutboxTables } from '../../src/db/tables.js';
import { runTransaction } from '../../src/db/transaction.js';
import type { OutboxDb } from '../../src/db/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { StompMessage } from '../../src/stomp/types.js';
import { decodeBody } from '../../src/wire/body.js';
import { deleteQueue, rabbitmqctl, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase } from '../../test/helpers/db.js';
import { cpuSince, processCpu, quiet } from './lib/process-cpu.js';

const MESSAGES = Number(process.env.BENCH_CONSUME_MESSAGES ?? 3000);
const REPEATS = Number(process.env.BENCH_CONSUME_REPEATS ?? 5);
// [concurrency, prefetch]: the default (1, 1); one message buffered ahead (1, 2), so the broker's turnaround
// after an ACK is off the path; and 16 handlers with two messages each (16, 32).
// BENCH_CONSUME_SHAPES=1x2,16x32 picks some of them (for a profile of one).
const SHAPES = ([[1, 1], [1, 2], [16, 32]] as const).filter(([c, p]) => (process.env.BENCH_CONSUME_SHAPES ?? `${c}x${p}`).split(',').includes(`${c}x${p}`));
type Form = 'tx_form' | 'own_tx_form';
type Step = 'bound' | 'bare' | Form;

// Every statement any node-postgres client sends: one round trip each.
let queries = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  queries++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

function config(url: string, concurrency: number, prefetchCount: number): ResolvedConfig {
  return resolveConfig(
    { database: { url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] }, consumer: { concurrency, prefetchCount } },
    {},
  );
}

function depth(queue: string): number {
  const out = rabbitmqctl('list_queues', 'name', 'messages', '--no-table-headers');
  const line = out.split('\n').find((l) => l.trim().split(/\s+/)[0] === queue);
  return line ? Number(line.trim().split(/\s+/)[1]) : -1;
}

const BODY = JSON.stringify({ id: 0, customer: 'c-000000', status: 'paid', total: '123.45', note: 'x'.repeat(120) });
const sentHeaders = () => ({ persistent: 'true', 'content-type': 'application/json', 'dop-msg-id': randomUUID(), 'dop-correlation-id': randomUUID() });

/** Declares `queue` bound to `/topic/<queue>` with the consumer's own headers, then fills it. */
async function prefill(c: ResolvedConfig, queue: string): Promise<void> {
  const s = await connect({ broker: c.broker, logger: silentLogger, window: 500 });
  s.subscribe(`/topic/${queue}`, { ...subscribeHeaders(c.consumer, queue), 'prefetch-count': '1' }, () => {}, 'declare');
  await s.disconnect();
  const pub = await connect({ broker: c.broker, logger: silentLogger, window: 500 });
  const sends: Promise<void>[] = [];
  for (let i = 0; i < MESSAGES; i++) sends.push(pub.send(`/topic/${queue}`, BODY, { headers: sentHeaders() }));
  await Promise.all(sends);
  await pub.disconnect();
  await waitFor(() => depth(queue) === MESSAGES, 60_000, 100);
}

interface Run {
  per_s: number;
  statements_per_msg: number;
  cpu_ms_per_msg: number;
  /** PostgreSQL's backends' and the broker's CPU per message in the same span (from /proc). */
  pg_cpu_ms_per_msg: number;
  broker_cpu_ms_per_msg: number;
  recorded?: number;
}

const OTHERS = ['postgres', 'beam.smp'];

/**
 * Starts counting what a figure costs: statements, this process's CPU, PostgreSQL's and the broker's. The
 * function returned ends the count, given the figure's measured seconds, as the figure's Run.
 */
function startCounting(): (seconds: number) => Run {
  const statements = queries;
  const cpu = process.cpuUsage();
  const others = processCpu(OTHERS);
  return (seconds) => {
    const spent = cpuSince(others);
    return {
      per_s: MESSAGES / seconds,
      statements_per_msg: (queries - statements) / MESSAGES,
      cpu_ms_per_msg: cpuMs(cpu) / MESSAGES,
      pg_cpu_ms_per_msg: spent.get('postgres')! / MESSAGES,
      broker_cpu_ms_per_msg: spent.get('beam.smp')! / MESSAGES,
    };
  };
}

/** This process's CPU (user + system) since `from`, ms. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

const business = (id: string, total: string) => sql`insert into bench_orders (message_id, total) values (${id}, ${total})`;

async function consume(db: OutboxDb, url: string, queue: string, form: Form, concurrency: number, prefetch: number): Promise<Run> {
  let started = 0;
  const ownTransaction = async (p: Payload<{ total: string }>) => {
    if (!started) started = performance.now();
    await db.transaction(async (tx) => {
      await tx.execute(business(p.messageId, p.body.total));
      await p.save(tx);
    });
  };
  const inConsumerTransaction = async (p: Payload<{ total: string }>, { tx }: HandlerContext) => {
    if (!started) started = performance.now();
    await tx.execute(business(p.messageId, p.body.total));
  };
  const consumer = createConsumer({
    db,
    handler: form === 'tx_form' ? inConsumerTransaction : ownTransaction,
    config: config(url, concurrency, prefetch),
    destination: `/topic/${queue}`,
    queue,
    logger: silentLogger,
  });
  const counted = startCounting();
  const running = consumer.run();
  // A connection lost under load has its in-flight messages redelivered: those already committed come back
  // `recorded`. They are counted as handled, and reported.
  const handled = () => consumer.stats().acked + consumer.stats().recorded;
  await waitFor(() => handled() >= MESSAGES, 600_000, 5);
  const run = counted((performance.now() - started) / 1000);
  await consumer.stop();
  await running;
  const s = consumer.stats();
  if (s.acked + s.recorded !== MESSAGES || s.duplicate + s.nacked + s.failed + s.unsettled !== 0) {
    throw new Error(`unexpected outcomes: ${JSON.stringify(s)}`);
  }
  return { ...run, recorded: s.recorded };
}

/**
 * One message as the consumer receives it, through the broker: its headers (the broker's own among them:
 * destination, subscription, message-id, ack, content-length) are what the inbox row stores, so the bound
 * stores the same row.
 */
async function sampleMessage(c: ResolvedConfig): Promise<StompMessage> {
  const queue = uniqueName('bench-sample');
  const s = await connect({ broker: c.broker, logger: silentLogger, window: 1 });
  try {
    const received = new Promise<StompMessage>((resolve) => {
      s.subscribe(`/topic/${queue}`, subscribeHeaders(c.consumer, queue), (m) => {
        s.ack(m);
        resolve(m);
      }, 'sample');
    });
    await s.send(`/topic/${queue}`, BODY, { headers: sentHeaders() });
    return await received;
  } finally {
    await s.disconnect();
    deleteQueue(queue);
  }
}

/**
 * The same work with nothing of the consumer's in the way: a bare subscriber (this library's STOMP client,
 * the consumer's SUBSCRIBE headers, prefetch and concurrency) that runs the bound's transaction for each
 * message as it arrives and ACKs it once committed — no dedup check, no deadlines, no outcome rules. Its
 * figure is what the broker's part costs on this machine: receiving and acking persistent messages, on
 * the cores the bound does not share.
 */
async function bareSubscriber(db: OutboxDb, url: string, queue: string, concurrency: number, prefetch: number): Promise<Run> {
  const c = config(url, concurrency, prefetch);
  const inbox = inboxStatements(db, createOutboxTables(), queue);
  const session = await connect({ broker: c.broker, logger: silentLogger, window: 1 });
  const waiting: StompMessage[] = [];
  let running = 0;
  let handled = 0;
  let started = 0;
  let failed: unknown;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const handle = (m: StompMessage): void => {
    running++;
    const id = m.headers['dop-msg-id']!;
    const body = decodeBody(m.body).value;
    runTransaction(db, async (tx) => {
      await tx.execute(business(id, '123.45'));
      await inbox.insertReceived(tx, { messageId: id, destination: m.headers.destination!, body, headers: m.headers });
    }).then(
      () => {
        session.ack(m);
        running--;
        if (++handled === MESSAGES) finish();
        const next = waiting.shift();
        if (next) handle(next);
      },
      (error: unknown) => {
        failed = error;
        finish();
      },
    );
  };
  const counted = startCounting();
  session.subscribe(`/topic/${queue}`, subscribeHeaders(c.consumer, queue), (m) => {
    if (!started) started = performance.now();
    if (running < concurrency) handle(m);
    else waiting.push(m);
  }, 'bare');
  await finished;
  const run = counted((performance.now() - started) / 1000);
  await session.disconnect();
  if (failed) throw failed;
  return run;
}

/**
 * The handler's transaction alone, `parallel` at a time, on the same pool: no broker, no consumer. Its inbox
 * row is the one the consumer writes for `sample` (the same body and headers, a fresh id).
 */
async function bound(db: OutboxDb, parallel: number, sample: StompMessage): Promise<Run> {
  const body = decodeBody(sample.body).value;
  const inbox = inboxStatements(db, createOutboxTables(), 'bench-bound');
  let next = 0;
  const counted = startCounting();
  const started = performance.now();
  const worker = async () => {
    while (next++ < MESSAGES) {
      const id = randomUUID();
      await runTransaction(db, async (tx) => {
        await tx.execute(business(id, '123.45'));
        const headers = { ...sample.headers, 'dop-msg-id': id, 'dop-correlation-id': randomUUID() };
        await inbox.insertReceived(tx, { messageId: id, destination: sample.headers.destination!, body, headers });
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return counted((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r3 = (x: number): number => Number(x.toFixed(3));
const range = (xs: number[], round: (x: number) => number) => [round(Math.min(...xs)), round(Math.max(...xs))];

const t = await createTestDatabase();
const pool = await openDatabase(config(t.url, 16, 32), { poolSize: 34, connectTimeout: 10 });
const queues: string[] = [];
try {
  await t.sql`create table bench_orders (message_id text primary key, total numeric not null, at timestamptz not null default now())`;
  const sample = await sampleMessage(config(t.url, 1, 1));
  const results = new Map<string, Run[]>();
  const add = (key: string, run: Run) => results.set(key, [...(results.get(key) ?? []), run]);
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const [concurrency, prefetch] of SHAPES) {
      const c = config(t.url, concurrency, prefetch);
      const filled = new Map<Step, string>();
      for (const step of ['bare', 'tx_form', 'own_tx_form'] as const) {
        const queue = uniqueName(`bench-${step}`);
        queues.push(queue, `DLQ.${queue}`);
        await prefill(c, queue);
        filled.set(step, queue);
      }
      // Rotated, so no figure always runs first (a cold cache) or last (after the others' autovacuum).
      const steps: Step[] = ['bound', 'bare', 'tx_form', 'own_tx_form'];
      for (let i = 0; i < repeat % steps.length; i++) steps.push(steps.shift()!);
      for (const step of steps) {
        // A checkpoint now rather than in the middle of a figure, and the broker and the database left to
        // finish what the steps before asked of them: none of it is charged to this figure.
        await t.sql`checkpoint`;
        await quiet(OTHERS);
        const key = `${step}/${concurrency}/${prefetch}`;
        if (step === 'bound') add(key, await bound(pool.db, concurrency, sample));
        else if (step === 'bare') add(key, await bareSubscriber(pool.db, t.url, filled.get(step)!, concurrency, prefetch));
        else add(key, await consume(pool.db, t.url, filled.get(step)!, step, concurrency, prefetch));
      }
    }
  }
  for (const [concurrency, prefetch] of SHAPES) {
    const b = results.get(`bound/${concurrency}/${prefetch}`)!;
    const perTx = median(b.map((r) => r.statements_per_msg));
    console.log(JSON.stringify({
      bench: 'consume', figure: 'db_bound', parallel: concurrency, beside_prefetch: prefetch, messages: MESSAGES, repeats: b.length,
      tx_per_s: Math.round(median(b.map((r) => r.per_s))), range: range(b.map((r) => r.per_s), Math.round), statements_per_tx: r3(perTx),
      node_cpu_ms_per_tx: r3(median(b.map((r) => r.cpu_ms_per_msg))),
      pg_cpu_ms_per_tx: r3(median(b.map((r) => r.pg_cpu_ms_per_msg))),
      broker_cpu_ms_per_tx: r3(median(b.map((r) => r.broker_cpu_ms_per_msg))),
    }));
    const bare = results.get(`bare/${concurrency}/${prefetch}`)!;
    for (const step of ['bare', 'tx_form', 'own_tx_form'] as const) {
      const runs = results.get(`${step}/${concurrency}/${prefetch}`)!;
      // Paired with the bound (and the bare subscriber) of the same repeat: the machine's load changes
      // between repeats, not within one.
      const ratios = runs.map((r, i) => r.per_s / b[i]!.per_s);
      const bareRatios = runs.map((r, i) => r.per_s / bare[i]!.per_s);
      const own = runs.map((r) => r.statements_per_msg - perTx);
      console.log(JSON.stringify({
        bench: 'consume', figure: step === 'bare' ? 'bare_subscriber' : `consumer_${step}`, concurrency, prefetch, messages: MESSAGES, repeats: runs.length,
        msg_per_s: Math.round(median(runs.map((r) => r.per_s))), range: range(runs.map((r) => r.per_s), Math.round),
        db_ratio: r3(median(ratios)), db_ratio_range: range(ratios, r3),
        ...(step === 'bare' ? {} : { bare_ratio: r3(median(bareRatios)), bare_ratio_range: range(bareRatios, r3) }),
        own_round_trips_per_msg: r3(median(own)), own_round_trips_range: range(own, r3),
        node_cpu_ms_per_msg: r3(median(runs.map((r) => r.cpu_ms_per_msg))),
        pg_cpu_ms_per_msg: r3(median(runs.map((r) => r.pg_cpu_ms_per_msg))),
        broker_cpu_ms_per_msg: r3(median(runs.map((r) => r.broker_cpu_ms_per_msg))),
        redelivered_recorded: runs.reduce((n, r) => n + (r.recorded ?? 0), 0),
      }));
    }
  }
} finally {
  for (const q of queues) deleteQueue(q);
  await pool.close();
  await t.drop();
}

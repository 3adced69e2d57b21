/**
 * The relay's SQL at table sizes production reaches (`npm run bench -- scale`, a few minutes). The tables
 * are filled with SQL as the library's own rows look. One JSON line per case, each compared within the run:
 *
 * - backoff-ahead: 1M rows waiting out a backoff ahead of 20,000 due ones vs none — drain throughput and the
 *   claim's buffers (EXPLAIN ANALYZE BUFFERS of the very statement the relay prepares, from the relay's
 *   cursor; and the rescan from the start it makes once per relay.pollInterval). Target ≥ 0.9×, ≤ 1.5×.
 * - long-drain: a 1M-row backlog drained — throughput of the last 10% vs the first 10%. Target ≥ 0.9×.
 * - retention: 1M sent rows past retention.days deleted in batches — the last batch's cost vs the first's
 *   (target ≤ 1.5×), and a relay draining 20,000 rows meanwhile vs alone (target ≥ 0.85×).
 *
 * BENCH_SCALE_ROWS (default 1,000,000) sets the big tables' size.
 */
import { is, Placeholder } from 'drizzle-orm';
import { performance } from 'node:perf_hooks';
import { createOutboxTables } from '../../src/db/tables.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { claimQuery } from '../../src/relay/sql.js';
import { createRetention } from '../../src/retention/retention.js';
import { deleteQueue, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { insertBacklog, testConfig } from '../../test/relay/rows.js';

const BIG = Number(process.env.BENCH_SCALE_ROWS ?? 1_000_000);
const DUE = 20_000;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'scale', ...o }));

/** Rows as the relay leaves them, in bulk: `status`, `next_attempt_at`, `sent_at` as given. */
async function fill(t: TestDatabase, count: number, kind: 'backoff' | 'sent-old' | 'sent-now'): Promise<void> {
  const chunk = 200_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    await t.sql.unsafe(`
      insert into outbox_published (id, destination, body, headers, status, attempts, next_attempt_at, sent_at)
      select gen_random_uuid(), '/queue/scale-filler', jsonb_build_object('n', g, 'pad', repeat('x', 100)),
        jsonb_build_object('dop-msg-type', 'Published'),
        ${kind === 'backoff' ? `'pending', 3, now() + interval '1 hour', null` : kind === 'sent-old' ? `'sent', 1, now(), now() - interval '40 days' + g * interval '1 ms'` : `'sent', 1, now(), now()`}
      from generate_series(1, ${n}) g`);
  }
  await t.sql`vacuum analyze outbox_published`;
}

/** The claim's cost as the relay runs it: EXPLAIN (ANALYZE, BUFFERS) of the prepared statement, rolled back. */
async function claimCost(t: TestDatabase, after: number): Promise<{ buffers: number; ms: number }> {
  const values: Record<string, unknown> = { limit: 200, lease: 30, inflight: [], owner: 1, after };
  const query = claimQuery(t.db, createOutboxTables().published).toSQL();
  const params = query.params.map((p) => (is(p, Placeholder) ? values[p.name] : p)) as never[];
  return t.sql.begin(async (tx) => {
    const [row] = await tx.unsafe(`explain (analyze, buffers, format json) ${query.sql}`, params);
    const plan = (row as Record<string, unknown>)['QUERY PLAN'] as Array<{ Plan: Record<string, number>; 'Execution Time': number }>;
    const top = plan[0]!;
    const buffers = (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0);
    await tx`rollback`.catch(() => {});
    return { buffers, ms: top['Execution Time'] };
  }).catch((error: unknown) => {
    if (String(error).includes('rollback')) return { buffers: 0, ms: 0 };
    throw error;
  });
}

/** A relay draining everything due; msg/s. `onProgress` sees (sent so far, seconds). */
async function drain(t: TestDatabase, rows: number, onProgress?: (sent: number, seconds: number) => void): Promise<number> {
  const queue = uniqueName('bench-scale');
  await t.sql.unsafe(`update outbox_published set destination = '/queue/${queue}' where status = 'pending' and next_attempt_at <= now()`);
  const relay = createRelay({ db: t.db, config: testConfig(t.url), logger: silentLogger });
  const started = performance.now();
  const running = relay.run();
  let sent = 0;
  // Counted from what is left (the pending index: O(backlog), shrinking), not from what was sent (a scan
  // of the growing history that would weigh on the very drain it measures).
  await waitFor(async () => {
    const left = Number((await t.sql`select count(*)::int as n from outbox_published where status = 'pending' and destination = ${`/queue/${queue}`}`)[0]!.n);
    sent = rows - left;
    onProgress?.(sent, (performance.now() - started) / 1000);
    return left === 0;
  }, 1_800_000, 200);
  const seconds = (performance.now() - started) / 1000;
  await relay.stop();
  await running;
  deleteQueue(queue);
  return rows / seconds;
}

async function backoffAhead(): Promise<void> {
  type Round = { rate: number; buffers: number; ms: number; rescanBuffers: number; rescanMs: number };
  const dbs = { none: await createTestDatabase(), ahead: await createTestDatabase() };
  await fill(dbs.ahead, BIG, 'backoff');
  const rounds: Record<'none' | 'ahead', Round[]> = { none: [], ahead: [] };
  // Three interleaved rounds on the two tables; medians.
  for (let round = 0; round < 3; round++) {
    for (const kind of ['none', 'ahead'] as const) {
      const t = dbs[kind];
      await insertBacklog(t.sql, '/queue/scale-due', DUE);
      await t.sql`vacuum analyze outbox_published`;
      // A claim as the relay makes it mid-drain (from its cursor, LOOKBACK below the highest seq it claimed),
      // and the rescan from the start it makes once per relay.pollInterval.
      const firstDue = Number((await t.sql`select min(seq)::bigint as s from outbox_published where status = 'pending' and next_attempt_at <= now()`)[0]!.s);
      const cost = await claimCost(t, Math.max(0, firstDue - 1));
      const rescan = await claimCost(t, 0);
      const rate = await drain(t, DUE);
      rounds[kind].push({ rate, ...cost, rescanBuffers: rescan.buffers, rescanMs: rescan.ms });
    }
  }
  const med = (kind: 'none' | 'ahead', key: keyof Round) => [...rounds[kind].map((r) => r[key])].sort((x, y) => x - y)[1]!;
  const view = (kind: 'none' | 'ahead') => ({
    msgPerSec: Math.round(med(kind, 'rate')), claimBuffers: med(kind, 'buffers'), claimMs: round(med(kind, 'ms')),
    rescanBuffers: med(kind, 'rescanBuffers'), rescanMs: round(med(kind, 'rescanMs')),
  });
  emit({
    case: 'backoff-ahead', rowsInBackoff: BIG, none: view('none'), ahead: view('ahead'),
    throughputRatio: round(med('ahead', 'rate') / med('none', 'rate')), buffersRatio: round(med('ahead', 'buffers') / Math.max(1, med('none', 'buffers'))),
    target: 'throughput ≥ 0.9×, buffers ≤ 1.5× (medians of 3 interleaved rounds)',
  });
  await dbs.none.drop();
  await dbs.ahead.drop();
}

async function longDrain(): Promise<void> {
  const t = await createTestDatabase();
  await insertBacklog(t.sql, '/queue/scale-drain', BIG);
  await t.sql`vacuum analyze outbox_published`;
  const samples: Array<{ sent: number; s: number }> = [];
  await drain(t, BIG, (sent, s) => samples.push({ sent, s }));
  const rateBetween = (from: number, to: number) => {
    const a = samples.find((x) => x.sent >= from)!;
    const b = samples.find((x) => x.sent >= to)!;
    return (b.sent - a.sent) / Math.max(0.001, b.s - a.s);
  };
  const first = rateBetween(0, BIG * 0.1);
  const last = rateBetween(BIG * 0.9, BIG);
  emit({ case: 'long-drain', rows: BIG, first10pctMsgPerSec: Math.round(first), last10pctMsgPerSec: Math.round(last), ratio: round(last / first), target: 'last 10% ≥ 0.9× first 10%' });
  await t.drop();
}

async function retention(): Promise<void> {
  const t = await createTestDatabase();
  // The relay alone first, on the same table size, for the baseline.
  await fill(t, BIG, 'sent-old');
  await insertBacklog(t.sql, '/queue/scale-ret', DUE);
  await t.sql`vacuum analyze outbox_published`;
  const alone = await drain(t, DUE);
  await insertBacklog(t.sql, '/queue/scale-ret', DUE);
  const batches: number[] = [];
  const config = testConfig(t.url);
  const retention = createRetention({ db: t.db, tables: config.tables, retention: { ...config.retention, interval: 1 }, logger: silentLogger, targets: ['published'], onBatch: (ms) => batches.push(ms) });
  const cleaning = retention.maybeRun();
  const during = await drain(t, DUE);
  await cleaning;
  const deleted = Number((await t.sql`select count(*)::int as n from outbox_published where status = 'sent' and sent_at < now() - interval '30 days'`)[0]!.n);
  const head = batches.slice(0, 5);
  const tail = batches.slice(-5);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  emit({
    case: 'retention', rows: BIG, batches: batches.length, left: deleted,
    firstBatchesMs: round(median(head)), lastBatchesMs: round(median(tail)), batchCostRatio: round(median(tail) / Math.max(0.001, median(head))),
    relayAloneMsgPerSec: Math.round(alone), relayDuringMsgPerSec: Math.round(during), relayRatio: round(during / alone),
    target: 'last batch ≤ 1.5× first; relay ≥ 0.85× alone',
  });
  await retention.stop();
  await t.drop();
}

const only = process.env.BENCH_SCALE_CASE;
if (!only || only === 'backoff-ahead') await backoffAhead();
if (!only || only === 'long-drain') await longDrain();
if (!only || only === 'retention') await retention();
process.exit(0);

/**
 * `outbox status` on a 10,000,000-row outbox table: how long the report takes (target: well under a second),
 * beside what the single scanning query it replaced took on the same table; and, for migration 0007's
 * partial index on failed rows, what counting failed rows costs with and without it, and what building it
 * costs. Then `outbox retry` of every failed row in bounded batches: time, statements, the longest one,
 * WAL written.
 *
 * The table, as a long-running service's looks: 9,870,000 sent rows over 40 destinations and 30 days;
 * 30,000 failed (three destinations); 100,000 pending — 80,000 due (a backlog), 10,000 waiting out a backoff
 * after a lost connection, 5,000 leased by a relay that died, 3,000 leased by a live one, 2,000 held behind a
 * refused destination. Three relays are registered: one alive, one blocked by the broker (alive), one dead.
 * Measured twice: right after the load with fresh statistics (ANALYZE, as autovacuum does after a bulk
 * load, but before any VACUUM: index-only scans still visit the heap), then after VACUUM.
 *
 * Building the table takes a few minutes and ~5 GB; it is dropped at the end unless BENCH_STATUS_KEEP=1,
 * which also reuses a kept one. node-postgres throughout: postgres.js 3.4.9 can take the process down when
 * PostgreSQL restarts (porsager/postgres#1154, see src/db/open.ts), and other work on a shared machine may
 * restart it mid-load.
 *
 *   npm run bench -- status      # BENCH_STATUS_ROWS (default 10000000), BENCH_STATUS_RUNS (default 7)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { outboxStatus } from '../../src/admin/status.js';
import { retryFailed } from '../../src/admin/retry.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { migrate } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { lockNamespace } from '../../src/relay/instance.js';
import { ADMIN_URL } from '../../test/helpers/db.js';

const ROWS = Number(process.env.BENCH_STATUS_ROWS ?? 10_000_000);
const RUNS = Number(process.env.BENCH_STATUS_RUNS ?? 7);
const KEEP = process.env.BENCH_STATUS_KEEP === '1';
const NAME = `outbox_bench_status_${ROWS}`;
const URL = ADMIN_URL.replace(/\/[^/]*$/, `/${NAME}`);

const FAILED = 30_000;
const PENDING = { due: 80_000, backoff: 10_000, deadLease: 5_000, liveLease: 3_000, held: 2_000 };
const SENT = ROWS - FAILED - Object.values(PENDING).reduce((a, b) => a + b, 0);
const KEYS = { live: 7_777, blocked: 7_778, dead: 4_242 };
const REFUSAL =
  "E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: precondition_failed — PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'bench-refused' in vhost '/': received none but current is the value '10' of type 'long'";

const log = (line: string) => process.stderr.write(`status bench: ${line}\n`);
const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Sql = pg.Client;
const q = async <T = Record<string, unknown>>(sql: Sql, text: string, values: unknown[] = []) => (await sql.query(text, values)).rows as T[];
async function client(url: string): Promise<Sql> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The rows of one INSERT … SELECT: `n` rows from `from`, in the shape of what publish() writes. */
function rows(sql: Sql, n: number, shape: { destination: string; status: string; attempts: string; next: string; error: string; owner: string; age: string; sentAt: string }) {
  return sql.query(`insert into outbox_published (id, destination, body, headers, status, attempts, next_attempt_at, last_error, owner, created_at, sent_at)
    select id, ${shape.destination}, jsonb_build_object('id', g, 'status', 'paid', 'total', '12.50'),
      jsonb_build_object('dop-msg-id', id::text, 'dop-msg-destination', ${shape.destination}, 'dop-msg-type', 'Published',
        'dop-msg-sent-time', '2026-11-01T00:00:00.000Z', 'dop-correlation-id', gen_random_uuid()::text),
      '${shape.status}', ${shape.attempts}, ${shape.next}, ${shape.error}, ${shape.owner}, ${shape.age}, ${shape.sentAt}
    from (select gen_random_uuid() as id, g from generate_series(1, ${n}) as g) as s`);
}

async function build(admin: Sql): Promise<void> {
  await admin.query(`drop database if exists "${NAME}" with (force)`);
  await admin.query(`create database "${NAME}"`);
  const sql = await client(URL);
  try {
    const opened = await openDatabase(resolveConfig({ database: { url: URL } }, {}));
    await migrate(opened.db);
    await opened.close();
    // Loading 10M rows into a table with its indexes costs a random-uuid primary key insert each; build
    // them once at the end instead (what migrate created, by the same definitions).
    const indexes = await q<{ name: string; def: string }>(sql, `select indexname as name, indexdef as def from pg_indexes
      where tablename = 'outbox_published' and indexname <> 'outbox_published_pkey'`);
    for (const i of indexes) await sql.query(`drop index "${i.name}"`);
    await sql.query('alter table outbox_published drop constraint outbox_published_pkey');
    const t0 = performance.now();
    const chunk = 1_000_000;
    for (let done = 0; done < SENT; done += chunk) {
      const n = Math.min(chunk, SENT - done);
      // 30 days of history, oldest first, over 40 destinations.
      await rows(sql, n, {
        destination: `'/topic/bench.' || ((g + ${done}) % 40)`,
        status: 'sent',
        attempts: '1',
        next: `now() - interval '30 days' + (g + ${done}) * interval '${(30 * 86_400) / SENT} seconds'`,
        error: 'null',
        owner: `${KEYS.live}`,
        age: `now() - interval '30 days' + (g + ${done}) * interval '${(30 * 86_400) / SENT} seconds'`,
        sentAt: `now() - interval '30 days' + (g + ${done}) * interval '${(30 * 86_400) / SENT} seconds' + interval '5 ms'`,
      });
      log(`${(done + n).toLocaleString('en-US')} sent rows (${Math.round((performance.now() - t0) / 1000)} s)`);
    }
    const recent = (minutes: number) => `now() - interval '${minutes} minutes'`;
    await rows(sql, FAILED, {
      destination: `case when g % 3 = 0 then '/exchange/bench-missing/k' when g % 30 = 1 then '/topic/bench.3' else '/queue/bench-refused' end`,
      status: 'failed', attempts: '50', next: recent(1), owner: `${KEYS.dead}`, age: recent(120), sentAt: 'null',
      error: `case when g % 3 = 0 then 'E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: not_found — NOT_FOUND - no exchange ''bench-missing'' in vhost ''/''' else '${REFUSAL.replace(/'/g, "''")}' end`,
    });
    await rows(sql, PENDING.held, { destination: `'/queue/bench-refused'`, status: 'pending', attempts: '3', next: `now() + interval '60 seconds'`, error: `'${REFUSAL.replace(/'/g, "''")}'`, owner: `${KEYS.live}`, age: recent(60), sentAt: 'null' });
    await rows(sql, PENDING.backoff, { destination: `'/topic/bench.7'`, status: 'pending', attempts: '2', next: `now() + interval '120 seconds'`, error: `'E_CONNECTION_CLOSED: the connection to 127.0.0.1:61613 was closed by the peer'`, owner: `${KEYS.live}`, age: recent(30), sentAt: 'null' });
    await rows(sql, PENDING.deadLease, { destination: `'/topic/bench.' || (g % 40)`, status: 'pending', attempts: '1', next: `now() + interval '25 seconds'`, error: 'null', owner: `${KEYS.dead}`, age: recent(2), sentAt: 'null' });
    await rows(sql, PENDING.liveLease, { destination: `'/topic/bench.' || (g % 40)`, status: 'pending', attempts: '1', next: `now() + interval '25 seconds'`, error: 'null', owner: `${KEYS.live}`, age: recent(1), sentAt: 'null' });
    await rows(sql, PENDING.due, { destination: `'/topic/bench.' || (g % 40)`, status: 'pending', attempts: '0', next: 'now()', error: 'null', owner: 'null', age: recent(0.5), sentAt: 'null' });
    log(`loaded in ${Math.round((performance.now() - t0) / 1000)} s; building the indexes`);
    await sql.query('alter table outbox_published add constraint outbox_published_pkey primary key (id)');
    for (const i of indexes) await sql.query(i.def);
    await sql.query(`insert into outbox_published_relays (relay_id, lock_key, host, pid, state, started_at, state_since) values
      (gen_random_uuid(), ${KEYS.live}, 'bench-1', 101, 'running', now() - interval '2 hours', now() - interval '2 hours'),
      (gen_random_uuid(), ${KEYS.blocked}, 'bench-2', 102, 'blocked', now() - interval '2 hours', now() - interval '45 seconds'),
      (gen_random_uuid(), ${KEYS.dead}, 'bench-3', 103, 'running', now() - interval '3 hours', now() - interval '3 hours')`);
    await sql.query('analyze outbox_published');
    // Only a table built to the end is reused by BENCH_STATUS_KEEP=1.
    await sql.query('create table bench_built (at timestamptz default now())');
    log(`built in ${Math.round((performance.now() - t0) / 1000)} s`);
  } finally {
    await sql.end();
  }
}

async function main(): Promise<void> {
  const admin = await client(ADMIN_URL);
  const [exists] = await q(admin, 'select 1 as found from pg_database where datname = $1', [NAME]);
  const built = KEEP && exists ? await client(URL).then(async (c) => {
    const [row] = await q(c, "select to_regclass('bench_built') is not null as built");
    await c.end();
    return Boolean(row?.built);
  }) : false;
  if (!built) await build(admin);
  const loadedNow = !built;
  const sql = await client(URL);
  // The live relays' session-level locks, held by this process for the run (what `alive` is read from).
  const locks = await client(URL);
  const namespace = lockNamespace('outbox_published');
  await locks.query('select pg_advisory_lock($1, $2), pg_advisory_lock($1, $3)', [namespace, KEYS.live, KEYS.blocked]);
  const config = resolveConfig({ database: { url: URL } }, {});
  const opened = await openDatabase(config);
  const { size } = (await q<{ size: string }>(sql, "select pg_size_pretty(pg_total_relation_size('outbox_published')) as size"))[0]!;

  async function measure(): Promise<{ median: number; max: number; report: Awaited<ReturnType<typeof outboxStatus>> }> {
    const times: number[] = [];
    let report!: Awaited<ReturnType<typeof outboxStatus>>;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      report = await outboxStatus(opened.db, config.tables);
      times.push(ms(t0));
    }
    return { median: median(times), max: Math.max(...times), report };
  }

  // As a live system has them: the stuck rows wait now (the leases and holds written at load time ran out
  // while the indexes were built).
  await sql.query(`update outbox_published set next_attempt_at = now() + interval '10 minutes' where status = 'pending' and attempts > 0`);
  const configFile = join(mkdtempSync(join(tmpdir(), 'outbox-status-bench-')), 'outbox.config.mjs');
  writeFileSync(configFile, 'export default {};\n');
  try {
    const fresh = await measure();
    await sql.query('vacuum outbox_published');
    const vacuumed = await measure();
    const r = vacuumed.report;

    // `outbox status --json` end to end, as an operator runs it (the built CLI: node start-up included).
    let cli: number | null = null;
    if (existsSync('dist/src/cli/main.js')) {
      const t0 = performance.now();
      const run = spawnSync(process.execPath, ['dist/src/cli/main.js', 'status', '--json', '--config', configFile], { env: { ...process.env, DATABASE_URL: URL }, encoding: 'utf8' });
      cli = run.status === 0 ? ms(t0) : null;
      if (run.status !== 0) log(`the CLI failed: ${run.stderr}`);
    }

    // What status ran before (one query grouping the whole table), for comparison: once.
    const t1 = performance.now();
    await sql.query(`select destination, count(*) filter (where status = 'pending')::int as pending,
        count(*) filter (where status = 'pending' and next_attempt_at > now())::int as scheduled,
        count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status = 'failed')::int as failed,
        extract(epoch from now() - min(created_at) filter (where status = 'pending'))::float8 as oldest,
        (array_agg(last_error order by (status = 'failed') desc, seq desc) filter (where last_error is not null and status <> 'sent'))[1] as last_error
      from outbox_published group by destination order by destination`);
    const before = ms(t1);

    // Failed rows per destination, with migration 0007's index and without it (the planner kept off indexes).
    const countFailed = "select destination, count(*)::int from outbox_published where status = 'failed' group by destination";
    const t2 = performance.now();
    await sql.query(countFailed);
    const withIndex = ms(t2);
    await sql.query('begin');
    await sql.query('set local enable_indexscan = off; set local enable_indexonlyscan = off; set local enable_bitmapscan = off');
    const t4 = performance.now();
    await sql.query(countFailed);
    const noIndex = ms(t4);
    await sql.query('rollback');
    // Migration 0007 on this table: building the index (in a transaction, as the migrator does; rolled back).
    await sql.query('begin');
    await sql.query('drop index outbox_published_failed_idx');
    const t5 = performance.now();
    await sql.query(`create index outbox_published_failed_idx on outbox_published using btree (destination, seq) where status = 'failed'`);
    const build0007 = ms(t5);
    await sql.query('rollback');

    console.log(
      JSON.stringify({
        bench: 'status',
        rows: ROWS,
        table: size,
        statusMs: { median: vacuumed.median, max: vacuumed.max, runs: RUNS },
        statusFreshMs: loadedNow ? { median: fresh.median, max: fresh.max, note: 'after the load, before any VACUUM' } : null,
        cliWallMs: cli,
        beforeMs: before,
        seen: {
          pending: r.totals.pending, scheduled: r.totals.scheduled, failed: r.totals.failed, sent: r.totals.sent, sentEstimated: r.estimated.sent,
          held: r.held.rows, staleLeases: r.staleLeases, relays: r.relays.length, alive: r.relays.filter((x) => x.alive).length, blocked: r.alarm.blocked,
        },
        failedCountMs: { withIndex, withoutIndex: noIndex },
        migration0007BuildMs: build0007,
      }),
    );

    // outbox retry of every failed row, in bounded batches.
    const lsn0 = (await q<{ lsn: string }>(sql, 'select pg_current_wal_lsn()::text as lsn'))[0]!.lsn;
    const t3 = performance.now();
    let longest = 0;
    let statements = 0;
    const requeued = await retryFailed(opened.db, config.tables, {
      onBatch: (_n: number, took: number) => {
        statements++;
        longest = Math.max(longest, took);
      },
    });
    const took = ms(t3);
    const { wal } = (await q<{ wal: string }>(sql, 'select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint as wal', [lsn0]))[0]!;
    console.log(JSON.stringify({ bench: 'retry', rows: requeued, ms: took, statements, longestStatementMs: Math.round(longest * 10) / 10, walMB: Math.round(Number(wal) / 1e5) / 10 }));
    // Back as it was, for a kept table's next run.
    await sql.query(`update outbox_published set status = 'failed', attempts = 50 where status = 'pending' and attempts = 0
      and destination in ('/exchange/bench-missing/k', '/queue/bench-refused', '/topic/bench.3') and last_error is not null`);
  } finally {
    rmSync(dirname(configFile), { recursive: true, force: true });
    await opened.close();
    await locks.end();
    await sql.end();
    if (!KEEP) await admin.query(`drop database if exists "${NAME}" with (force)`);
    await admin.end();
  }
}

await main();

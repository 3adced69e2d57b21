/**
 * Capture cost: transactions per second of an outbox insert (one business row + two outbox rows, what
 * `insert<Model>WithOutbox` does) beside a plain Drizzle insert of the same business row in its own
 * transaction (the ceiling), on a fresh database, in the same run. Rounds rotate the variants so drift
 * on a noisy machine hits all; figures are medians over rounds, and a ratio is the median of the ratios of
 * adjacent plain/outbox rounds (robust to the machine getting faster or slower mid-run). Serial (one
 * connection) and 10 in parallel. Target: the outbox costs less than 2× the plain insert (ratio = plain tx/s
 * ÷ outbox tx/s).
 *
 * The insert trigger NOTIFYs only while a relay is listed as asleep (README "How relays wake up"), and Postgres serialises
 * the commits of transactions that NOTIFY, so the outbox insert is measured in both states:
 * - `outbox`: no relay asleep (the idle table holds only an expired listing) — the state under load, when
 *   relays are busy or polling a trickle;
 * - `outbox, relay asleep`: a live listing, so every insert NOTIFYs — what a quiet system pays, per commit.
 * A LISTEN session is open throughout, as a relay's would be. A fourth, informational variant drops the
 * trigger, to show what is left of its cost when nobody is asleep (one look at the idle table per statement).
 *
 *   npm run bench -- insert     # BENCH_INSERT_SECONDS (per round, default 1), BENCH_INSERT_ROUNDS (default 9)
 */
import { performance } from 'node:perf_hooks';
import { insertWithOutbox } from '../../src/publish/model.js';
import { orders, schemaSql } from '../../test/fixtures/shop/schema.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { testConfig } from '../../test/relay/rows.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { waitFor } from '../../test/helpers/broker.js';

const SECONDS = Number(process.env.BENCH_INSERT_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_INSERT_ROUNDS ?? 9);

// What the generated insertOrderWithOutbox passes: the model from the config, two publish configs.
const model = {
  table: orders,
  publish: [{ destination: '/topic/orders' }, { destination: '/topic/orders-slim', fields: ['status'] as const, version: 'v1' }],
};
const target = { name: 'order' };
const values = () => ({ total: '123.45', note: 'x'.repeat(60) });

type Variant = 'plain' | 'outbox' | 'asleep' | 'quiet';
const VARIANTS: Variant[] = ['plain', 'outbox', 'asleep', 'quiet'];
const outboxInsert = (t: TestDatabase) => t.db.transaction((tx) => insertWithOutbox(tx, model, values(), target));
const runOne: Record<Variant, (t: TestDatabase) => Promise<unknown>> = {
  plain: (t) => t.db.transaction((tx) => tx.insert(orders).values(values()).returning()),
  outbox: outboxInsert,
  asleep: outboxInsert,
  quiet: outboxInsert,
};
const TRIGGER = 'CREATE TRIGGER outbox_published_notify AFTER INSERT ON outbox_published FOR EACH STATEMENT EXECUTE FUNCTION outbox_published_notify()';
const RELAY = '00000000-0000-4000-8000-000000000001';

/** Transactions per second of `variant` with `parallel` loops for SECONDS. */
async function round(t: TestDatabase, variant: Variant, parallel: number): Promise<number> {
  if (variant === 'quiet') await t.sql`drop trigger outbox_published_notify on outbox_published`;
  // A relay asleep lists itself; otherwise only a listing that expired (a relay that went busy or died).
  const expiresIn = variant === 'asleep' ? '1 hour' : '-1 second';
  await t.sql`insert into outbox_published_idle values (${RELAY}, now() + ${expiresIn}::interval)
    on conflict (relay_id) do update set expires_at = excluded.expires_at`;
  const before = notified.count;
  try {
    return await measure(t, variant, parallel);
  } finally {
    notifications[variant] += notified.count - before;
    if (variant === 'quiet') await t.sql.unsafe(TRIGGER);
  }
}

/** Commits counted by `measure` (for the share that notified). */
let commits = 0;

async function measure(t: TestDatabase, variant: Variant, parallel: number): Promise<number> {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < until) {
        await runOne[variant](t);
        done++;
      }
    }),
  );
  commits += done;
  return done / ((performance.now() - started) / 1000);
}

/**
 * Informational: 10 writers with a real relay running (default settings, sending to RabbitMQ), rounds
 * alternating with plain ones, so the relay falls asleep between rounds and has to decide, under load,
 * whether producers should notify it. Reports the share of outbox commits that sent a NOTIFY. The relay's
 * own CPU shares this 2-core machine with the writers and Postgres, which the ratio also pays.
 */
async function withRelay(t: TestDatabase, parallel: number, alwaysNotify: boolean): Promise<void> {
  await t.sql`delete from outbox_published`;
  await t.sql`delete from outbox_published_idle`;
  const [{ def }] = (await t.sql`select pg_get_functiondef('outbox_published_notify'::regproc) as def`) as unknown as [{ def: string }];
  // The trigger before README "How relays wake up" (drizzle/0001): a NOTIFY on every insert, asleep or not.
  if (alwaysNotify) await t.sql.unsafe(`create or replace function outbox_published_notify() returns trigger language plpgsql as $$ begin perform pg_notify('outbox_published', ''); return null; end $$`);
  const relay = createRelay({ db: t.db, config: testConfig(t.url, { relay: { pollInterval: 1 } }), logger: silentLogger });
  const running = relay.run();
  const plain: number[] = [];
  const outbox: number[] = [];
  let notifiedCommits = 0;
  let outboxCommits = 0;
  try {
    for (let i = 0; i < Math.max(3, Math.ceil(ROUNDS / 2)); i++) {
      plain.push(await measure(t, 'plain', parallel));
      // Asleep before the writers start: the first commits notify, then it is up to the relay.
      if (!alwaysNotify) await waitFor(async () => (await t.sql`select 1 from outbox_published_idle where expires_at > now()`).length > 0);
      else await new Promise((r) => setTimeout(r, 100));
      const [n0, c0] = [notified.count, commits];
      outbox.push(await measure(t, 'outbox', parallel));
      notifiedCommits += notified.count - n0;
      outboxCommits += commits - c0;
    }
  } finally {
    await relay.stop();
    await running;
    await t.sql.unsafe(def);
  }
  const [left] = await t.sql`select count(*)::int as n from outbox_published where status <> 'sent'`;
  console.log(
    JSON.stringify({
      bench: 'insert',
      figure: `outbox insert tx/s with a relay running${alwaysNotify ? ', trigger notifying on every insert as before README "How relays wake up"' : ''} (informational), ${parallel} in parallel`,
      value: r1(median(outbox)),
      unit: 'tx/s',
      ceiling: r1(median(plain)),
      ceilingIs: 'plain Drizzle insert of the same row in a transaction, same run, relay running',
      ratio: Math.round(median(plain.map((p, i) => p / outbox[i]!)) * 100) / 100,
      rounds: { plain: plain.map(r1), outbox: outbox.map(r1) },
      notifiedShare: Math.round((notifiedCommits / Math.max(1, outboxCommits)) * 1000) / 1000,
      notSentWhenStopped: left?.n ?? 0,
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;

const FIGURES: Record<Exclude<Variant, 'plain'>, { figure: string; target?: string }> = {
  outbox: { figure: 'outbox insert tx/s, no relay asleep (NOTIFY off: the state under load)', target: 'ratio < 2' },
  asleep: { figure: 'outbox insert tx/s, a relay asleep (NOTIFY on every commit)', target: 'ratio < 2' },
  quiet: { figure: 'outbox insert tx/s without the trigger (informational)' },
};

const t = await createTestDatabase();
// A relay's LISTEN session, open throughout; notifications counted per variant (delivery is asynchronous,
// so a round may get a few of the round before it).
const notified = { count: 0 };
const notifications: Record<Variant, number> = { plain: 0, outbox: 0, asleep: 0, quiet: 0 };
const { unlisten } = await t.sql.listen('outbox_published', () => void notified.count++);
try {
  await t.sql.unsafe(schemaSql);
  // Warm up both paths (connections, prepared plans, JIT) before measuring.
  for (const v of ['plain', 'outbox'] as const) for (let i = 0; i < 200; i++) await runOne[v](t);
  for (const parallel of [1, 10]) {
    const results: Record<Variant, number[]> = { plain: [], outbox: [], asleep: [], quiet: [] };
    for (const v of VARIANTS) notifications[v] = 0;
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate the order so that no variant always runs first or last.
      for (let j = 0; j < VARIANTS.length; j++) {
        const v = VARIANTS[(i + j) % VARIANTS.length]!;
        results[v].push(await round(t, v, parallel));
      }
    }
    const how = parallel === 1 ? 'serial' : `${parallel} in parallel`;
    for (const v of ['outbox', 'asleep', 'quiet'] as const) {
      const ratio = median(results.plain.map((p, i) => p / results[v][i]!));
      console.log(
        JSON.stringify({
          bench: 'insert',
          figure: `${FIGURES[v].figure}, ${how}`,
          value: r1(median(results[v])),
          unit: 'tx/s',
          ceiling: r1(median(results.plain)),
          ceilingIs: 'plain Drizzle insert of the same row in a transaction, same run',
          ratio: Math.round(ratio * 100) / 100,
          target: FIGURES[v].target,
          rounds: { plain: results.plain.map(r1), [v]: results[v].map(r1) },
          rows: 'one business row + two outbox rows per transaction',
          notifications: notifications[v],
        }),
      );
    }
  }
  const [row] = await t.sql`select count(*)::int as n from outbox_published`;
  if (!row?.n) throw new Error('the outbox variant wrote no outbox rows');
  await withRelay(t, 10, false);
  await withRelay(t, 10, true);
  // The states are what they claim: the asleep rounds notified.
  if (notifications.asleep === 0) throw new Error('no NOTIFY arrived while a relay was listed as asleep');
} finally {
  await unlisten();
  await t.drop();
}

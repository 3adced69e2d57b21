/**
 * Capture cost: transactions per second of an outbox insert (one business row + two outbox rows, what
 * `insert<Model>WithOutbox` does) beside a plain Drizzle insert of the same business row in its own
 * transaction (the ceiling), on a fresh database, in the same run. Rounds alternate plain/outbox so drift
 * on a noisy machine hits both; figures are medians over rounds, and the ratio is the median of the
 * ratios of adjacent plain/outbox rounds (robust to the machine getting faster or slower mid-run). Serial (one connection) and 10 in
 * parallel. Target: the outbox costs less than 2× the plain insert (ratio = plain tx/s ÷ outbox tx/s).
 * A third, informational variant runs the outbox insert with the NOTIFY trigger dropped, to show what the
 * relay's wake-up costs: Postgres serialises the commits of transactions that NOTIFY.
 *
 *   npm run bench -- insert     # BENCH_INSERT_SECONDS (per round, default 1), BENCH_INSERT_ROUNDS (default 9)
 */
import { performance } from 'node:perf_hooks';
import { insertWithOutbox } from '../../src/publish/model.js';
import { orders, schemaSql } from '../../test/fixtures/capture/schema.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';

const SECONDS = Number(process.env.BENCH_INSERT_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_INSERT_ROUNDS ?? 9);

// What the generated insertOrderWithOutbox passes: the model from the config, two publish configs.
const model = {
  table: orders,
  publish: [{ destination: '/topic/orders' }, { destination: '/topic/orders-slim', fields: ['status'] as const, version: 'v1' }],
};
const target = { name: 'order' };
const values = () => ({ total: '123.45', note: 'x'.repeat(60) });

type Variant = 'plain' | 'outbox' | 'quiet';
const VARIANTS: Variant[] = ['plain', 'outbox', 'quiet'];
const outboxInsert = (t: TestDatabase) => t.db.transaction((tx) => insertWithOutbox(tx, model, values(), target));
const runOne: Record<Variant, (t: TestDatabase) => Promise<unknown>> = {
  plain: (t) => t.db.transaction((tx) => tx.insert(orders).values(values()).returning()),
  outbox: outboxInsert,
  quiet: outboxInsert,
};
const TRIGGER = 'CREATE TRIGGER outbox_published_notify AFTER INSERT ON outbox_published FOR EACH STATEMENT EXECUTE FUNCTION outbox_published_notify()';

/** Transactions per second of `variant` with `parallel` loops for SECONDS. */
async function round(t: TestDatabase, variant: Variant, parallel: number): Promise<number> {
  if (variant === 'quiet') await t.sql`drop trigger outbox_published_notify on outbox_published`;
  try {
    return await measure(t, variant, parallel);
  } finally {
    if (variant === 'quiet') await t.sql.unsafe(TRIGGER);
  }
}

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
  return done / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;

const t = await createTestDatabase();
try {
  await t.sql.unsafe(schemaSql);
  // Warm up both paths (connections, prepared plans, JIT) before measuring.
  for (const v of ['plain', 'outbox'] as const) for (let i = 0; i < 200; i++) await runOne[v](t);
  for (const parallel of [1, 10]) {
    const results: Record<Variant, number[]> = { plain: [], outbox: [], quiet: [] };
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate the order so that no variant always runs first or last.
      for (let j = 0; j < VARIANTS.length; j++) {
        const v = VARIANTS[(i + j) % VARIANTS.length]!;
        results[v].push(await round(t, v, parallel));
      }
    }
    const how = parallel === 1 ? 'serial' : `${parallel} in parallel`;
    for (const v of ['outbox', 'quiet'] as const) {
      const ratio = median(results.plain.map((p, i) => p / results[v][i]!));
      console.log(
        JSON.stringify({
          bench: 'insert',
          figure: v === 'outbox' ? `outbox insert tx/s, ${how}` : `outbox insert tx/s without the NOTIFY trigger (informational), ${how}`,
          value: r1(median(results[v])),
          unit: 'tx/s',
          ceiling: r1(median(results.plain)),
          ceilingIs: 'plain Drizzle insert of the same row in a transaction, same run',
          ratio: Math.round(ratio * 100) / 100,
          target: v === 'outbox' ? 'ratio < 2' : undefined,
          rounds: { plain: results.plain.map(r1), [v]: results[v].map(r1) },
          rows: 'one business row + two outbox rows per transaction',
        }),
      );
    }
  }
  const [row] = await t.sql`select count(*)::int as n from outbox_published`;
  if (!row?.n) throw new Error('the outbox variant wrote no outbox rows');
} finally {
  await t.drop();
}

/**
 * Keyed (ordered) relay throughput beside unordered throughput, in the same run (README "Ordering"). One
 * relay drains a pre-inserted backlog of ROWS rows → all `sent`, msg/s; three shapes, interleaved, RUNS times:
 *
 * - unkeyed: rows without a key (the bound: the same relay, the same rows, no ordering).
 * - keyed, 1,000 keys: rows spread round robin over 1,000 keys. Target ≥ 0.7 × unkeyed.
 * - keyed, 10 keys: rows spread over 10 keys; each key's next run is claimable only once its last one is
 *   marked, so this is the shape ordering costs most. Target ≥ 0.3 × unkeyed.
 *
 * Medians of the interleaved repeats; one JSON line per figure.
 *
 *   npm run bench -- ordering     # BENCH_ORDERING_ROWS (default 20,000), BENCH_ORDERING_RUNS (default 3)
 */
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { insertKeyedBacklog } from '../../test/ordering/rows.js';
import { insertBacklog, testConfig } from '../../test/relay/rows.js';
import { timedDrain } from './lib/timed-drain.js';

const ROWS = Number(process.env.BENCH_ORDERING_ROWS ?? 20_000);
const RUNS = Number(process.env.BENCH_ORDERING_RUNS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'ordering', ...o }));

/** One relay draining ROWS rows over `keys` keys (0: unkeyed); msg/s from start to the last row marked. */
const drain = (t: TestDatabase, keys: number): Promise<number> =>
  timedDrain(t, {
    rows: ROWS,
    config: testConfig(t.url),
    name: 'bench-ordering',
    timeoutMs: 300_000,
    async fill(destination) {
      await t.sql`truncate outbox_published_keys`;
      if (keys === 0) await insertBacklog(t.sql, destination, ROWS);
      else await insertKeyedBacklog(t.sql, destination, ROWS, keys);
    },
  });

const t = await createTestDatabase();
try {
  const shapes = [0, 1000, 10];
  const rates = new Map<number, number[]>(shapes.map((k) => [k, []]));
  for (let run = 0; run < RUNS; run++) for (const keys of shapes) rates.get(keys)!.push(await drain(t, keys));
  const unkeyed = median(rates.get(0)!);
  emit({ figure: 'unkeyed', rows: ROWS, msgPerSec: Math.round(unkeyed), runs: rates.get(0)!.map(Math.round) });
  for (const [keys, target] of [[1000, 0.7], [10, 0.3]] as const) {
    const rate = median(rates.get(keys)!);
    emit({ figure: `keyed, ${keys} keys`, rows: ROWS, msgPerSec: Math.round(rate), runs: rates.get(keys)!.map(Math.round), ratioToUnkeyed: round(rate / unkeyed), target, met: rate / unkeyed >= target });
  }
} finally {
  await t.drop();
}

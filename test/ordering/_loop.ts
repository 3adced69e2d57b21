import { createTestDatabase } from '../helpers/db.js';
import { insertKeyedBacklog } from './rows.js';
import { createRelayStatements } from '../../src/relay/sql.js';
import { defaults } from '../../src/config/defaults.js';
const keys = Number(process.argv[2] ?? 1000);
const t = await createTestDatabase();
try {
  await insertKeyedBacklog(t.sql, '/queue/x', 20000, keys);
  if (process.env.ANALYZE) await t.sql`vacuum analyze outbox_published`;
  const st = createRelayStatements(t.db, defaults.tables);
  let total = 0; const times: number[] = []; const mtimes: number[] = [];
  const t0 = performance.now();
  while (total < 20000) {
    const s = performance.now();
    const rows = await st.claimKeyed(200, 30, [], null);
    times.push(performance.now() - s);
    const m = performance.now();
    await st.markSent(rows.map((r) => r.id), true);
    mtimes.push(performance.now() - m);
    total += rows.length;
    if (rows.length === 0) { console.log('empty claim at', total); break; }
  }
  const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!.toFixed(1);
  console.log({ keys, claims: times.length, claimMedMs: med(times), claimMax: Math.max(...times).toFixed(1), markMed: med(mtimes), rowsPerS: Math.round(total / (performance.now() - t0) * 1000) });
} finally { await t.drop(); }

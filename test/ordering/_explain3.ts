import { PgDialect } from 'drizzle-orm/pg-core';
import { createTestDatabase } from '../helpers/db.js';
import { insertKeyedBacklog } from './rows.js';
import { createRelayStatements } from '../../src/relay/sql.js';
import { keyedClaim } from '../../src/relay/keyed-sql.js';
import { outboxPublished } from '../../src/db/tables.js';
import { defaults } from '../../src/config/defaults.js';
const t = await createTestDatabase();
try {
  await insertKeyedBacklog(t.sql, '/queue/x', 20000, Number(process.argv[2] ?? 10));
  await t.sql`vacuum analyze outbox_published`;
  const st = createRelayStatements(t.db, defaults.tables);
  for (let i = 0; i < 3; i++) { const rows = await st.claimKeyed(200, 30, [], null); await st.markSent(rows.map((r) => r.id), true); }
  const q = new PgDialect().sqlToQuery(keyedClaim(outboxPublished, { heads: 200, limit: 400, lease: 30, inflight: [], owner: null }));
  await t.sql.begin(async (tx) => {
    const plan = await tx.unsafe(`explain (analyze, buffers, settings) ${q.sql}`, q.params as any[]);
    console.log(plan.map((r: any) => r['QUERY PLAN']).join('\n'));
    throw new Error('rollback');
  }).catch(() => {});
} finally { await t.drop(); }

import { PgDialect } from 'drizzle-orm/pg-core';
import { createTestDatabase } from '../helpers/db.js';
import { insertKeyedBacklog } from './rows.js';
import { createRelayStatements } from '../../src/relay/sql.js';
import { markSentKeyed } from '../../src/relay/keyed-sql.js';
import { outboxPublished } from '../../src/db/tables.js';
import { defaults } from '../../src/config/defaults.js';
const t = await createTestDatabase();
try {
  await insertKeyedBacklog(t.sql, '/queue/x', 20000, 1000);
  const st = createRelayStatements(t.db, defaults.tables);
  for (let i = 0; i < 3; i++) { const rows = await st.claimKeyed(200, 30, [], null); await st.markSent(rows.map((r) => r.id), true); }
  const rows = await st.claimKeyed(200, 30, [], null);
  const q = new PgDialect().sqlToQuery(markSentKeyed(outboxPublished, rows.map((r) => r.id)));
  const plan = await t.sql.unsafe(`explain (analyze, buffers) ${q.sql}`, q.params as any[]);
  console.log(plan.map((r: any) => r['QUERY PLAN']).join('\n'));
} finally { await t.drop(); }

/**
 * Migration 0008 upgrades a table in place: a database at 0007 with pending, sent and failed rows gains the key
 * columns, the keys table and the indexes; its rows stay as they were (unordered), and the relay's claims —
 * the unordered one and the keyed one — work on them at once.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaults } from '../../src/config/defaults.js';
import { migrate, migrationsFolder, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../../src/db/migrate.js';
import { createRelayStatements } from '../../src/relay/sql.js';
import { createTestDatabase } from '../helpers/db.js';
import { insertBacklog } from '../relay/rows.js';

test('a database at 0007 with rows: outbox migrate applies 0008 only, rows intact and claimable', async () => {
  const t = await createTestDatabase({ migrate: false });
  const folder = mkdtempSync(join(tmpdir(), 'outbox-0007-'));
  try {
    // The shipped migrations up to 0007, applied as an older release would have.
    const source = migrationsFolder();
    cpSync(source, folder, { recursive: true });
    const journal = JSON.parse(readFileSync(join(source, 'meta/_journal.json'), 'utf8')) as { entries: Array<{ idx: number }> };
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.filter((e) => e.idx < 8) }));
    await drizzleMigrate(t.db as never, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA });
    await insertBacklog(t.sql, '/queue/upgrade', 300);
    await t.sql`update outbox_published set status = 'sent', sent_at = now() where seq <= 100`;
    await t.sql`update outbox_published set status = 'failed', attempts = 50 where seq > 100 and seq <= 110`;

    const { applied } = await migrate(t.db);
    assert.equal(applied, ['0008_ordering_keys']);
    const [counts] = await t.sql`select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'pending')::int as pending, count(*) filter (where key is not null or key_seq is not null)::int as keyed from outbox_published`;
    assert.equal({ ...counts }, { sent: 100, failed: 10, pending: 190, keyed: 0 });
    const indexes = (await t.sql`select indexname from pg_indexes where tablename = 'outbox_published' order by 1`).map((r) => r.indexname);
    assert.ok(indexes.includes('outbox_published_key_head_idx') && indexes.includes('outbox_published_key_pending_idx'), indexes.join(', '));
    const statements = createRelayStatements(t.db, defaults.tables);
    assert.is((await statements.claim(200, 30)).length, 190, 'the old rows are claimed as unordered rows');
    assert.is((await statements.claimKeyed(200, 30)).length, 0, 'and never by the keyed claim');
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await t.drop();
  }
});

test.run();

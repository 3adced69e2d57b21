/**
 * Upgrading an inbox that already has rows to the queue-scoped key (drizzle/0004_inbox_queue_scope.sql),
 * with the standard and with custom table names (`outbox migrate` substitutes names in the shipped SQL):
 * existing rows get queue '' and keep counting as handled for every queue; the key becomes
 * (message_id, queue), so a second queue records the same id beside them.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import { defaults, resolveTables } from '../../src/config/defaults.js';
import type { TableNames } from '../../src/config/types.js';
import { createPayload } from '../../src/consumer/payload.js';
import { inboxStatements } from '../../src/consumer/sql.js';
import { migrate, migrationsFolder, migrationsTableFor } from '../../src/db/migrate.js';
import { createOutboxTables } from '../../src/db/tables.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** The shipped migrations before the queue scope (0000–0003), with the table names substituted as migrate does. */
function migrationsBeforeScope(tables: TableNames): string {
  const source = migrationsFolder();
  const target = mkdtempSync(join(tmpdir(), 'outbox-upgrade-'));
  mkdirSync(join(target, 'meta'));
  const journal = JSON.parse(readFileSync(join(source, 'meta/_journal.json'), 'utf8')) as { entries: Array<{ idx: number; tag: string }> };
  const kept = journal.entries.filter((e) => e.idx < 4);
  assert.equal(kept.at(-1)?.tag, '0003_notify_when_idle');
  writeFileSync(join(target, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: kept }));
  const names = (Object.keys(defaults.tables) as (keyof TableNames)[]).map((k) => [defaults.tables[k], tables[k]] as const);
  const pattern = new RegExp(names.map(([from]) => from).sort((a, b) => b.length - a.length).join('|'), 'g');
  for (const e of kept) {
    const sql = readFileSync(join(source, `${e.tag}.sql`), 'utf8');
    writeFileSync(join(target, `${e.tag}.sql`), sql.replace(pattern, (n) => names.find(([from]) => from === n)![1]));
    cpSync(join(source, `meta/${String(e.idx).padStart(4, '0')}_snapshot.json`), join(target, `meta/${String(e.idx).padStart(4, '0')}_snapshot.json`));
  }
  return target;
}

for (const [label, tables] of [
  ['standard names', defaults.tables],
  ['custom names', resolveTables({ published: 'shop_events', received: 'shop_inbox', maintenance: 'shop_maint' })],
] as const) {
  test(`${label}: rows recorded before the upgrade get queue '' and stay handled; the key becomes (message_id, queue)`, async () => {
    const t: TestDatabase = await createTestDatabase({ migrate: false });
    const folder = migrationsBeforeScope(tables);
    try {
      await drizzleMigrate(t.db as never, { migrationsFolder: folder, migrationsTable: migrationsTableFor(tables), migrationsSchema: 'public' });
      const inbox = tables.received;
      await t.sql`insert into ${t.sql(inbox)} (message_id, destination, body, headers) values ('before-1', '/topic/orders', '{}', '{}'), ('before-2', '/topic/orders', '{}', '{}')`;

      await migrate(t.db, tables);
      await migrate(t.db, tables); // the second run applies nothing

      const rows = await t.sql`select message_id, queue from ${t.sql(inbox)} order by message_id`;
      assert.equal(rows.map((r) => [r.message_id, r.queue]), [['before-1', ''], ['before-2', '']]);
      const [key] = await t.sql`
        select c.conname, array_agg(a.attname::text order by k.n) as columns
        from pg_constraint c
        cross join lateral unnest(c.conkey) with ordinality as k(attnum, n)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
        where c.conrelid = ${inbox}::regclass and c.contype = 'p'
        group by c.conname`;
      assert.equal([key?.conname, key?.columns], [`${inbox}_message_id_queue_pk`, ['message_id', 'queue']]);

      const statements = (queue: string) => inboxStatements(t.db, createOutboxTables(tables), queue);
      assert.ok(await statements('orders-email').isRecorded('before-1'), 'handled before the upgrade: still handled');
      const p = createPayload({ body: {}, headers: {}, messageId: 'after-1', correlationId: 'c', destination: '/topic/orders' }, statements('orders-email'));
      await t.db.transaction((tx) => p.payload.save(tx));
      const q = createPayload({ body: {}, headers: {}, messageId: 'after-1', correlationId: 'c', destination: '/topic/orders' }, statements('orders-stats'));
      await t.db.transaction((tx) => q.payload.save(tx));
      assert.ok(q.state.saved && !q.state.duplicate, 'the same id on another queue is recorded beside it');
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await t.drop();
    }
  });
}

test.run();

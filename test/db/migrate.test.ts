// `outbox migrate` on an empty Postgres database and on PGlite, twice; custom table names end to end;
// the own-migrations alternative (generated schema + outbox-trigger.sql) wakes a listener.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from '../../codegen/generate.js';
import { writeGenerated } from '../../codegen/write.js';
import { migrate } from '../../src/db/migrate.js';
import type { OutboxDb } from '../../src/db/types.js';
import { insertOrderWithOutbox } from '../fixtures/shop/golden/index.js';
import { schemaSql } from '../fixtures/shop/schema.js';
import { createTestDatabase } from '../helpers/db.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WORK = join(ROOT, 'tmp', `capture-migrate-${process.pid}`);
const rowsOf = (r: unknown) => (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<string, unknown>[];

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: WORK,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
}

async function tables(sql: (q: TemplateStringsArray) => Promise<unknown>): Promise<string[]> {
  return rowsOf(await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) => r.tablename as string);
}

/** Resolves once LISTEN is in place, with a promise that settles on the first notification. */
async function listening(t: { sql: { listen(channel: string, fn: () => void): Promise<unknown> } }, channel: string) {
  let notified!: (why: string) => void;
  // A missing trigger must fail the test, not hang it: give up after 10 s (far beyond NOTIFY's milliseconds).
  const woken = new Promise<string>((done) => {
    notified = done;
    setTimeout(() => done('no notification'), 10_000).unref();
  });
  await t.sql.listen(channel, () => notified('notified'));
  return { woken };
}

/** What a relay does before it sleeps (src/relay/idle.ts): list itself, so that the trigger notifies. */
async function armRelay(t: { sql: { unsafe(q: string): Promise<unknown> } }, idleTable: string) {
  await t.sql.unsafe(`insert into "${idleTable}" (relay_id, expires_at) values (gen_random_uuid(), now() + interval '1 minute')`);
}

test.before(() => {
  mkdirSync(WORK, { recursive: true });
});
test.after(() => rmSync(WORK, { recursive: true, force: true }));

test('outbox migrate on an empty database, twice: tables, indexes, trigger; the second run is a no-op', async () => {
  const t = await createTestDatabase({ migrate: false });
  try {
    writeFileSync(join(WORK, 'outbox.config.ts'), 'export default {};\n');
    for (const run of [1, 2]) {
      const r = cli(['migrate'], { DATABASE_URL: t.url });
      assert.is(r.status, 0, `run ${run}: ${r.stderr}`);
      // It says what it did: every migration the first time, nothing the second.
      if (run === 1) assert.match(r.stdout, /^outbox: applied 0000_init, 0001_notify_trigger, .*, 0008_ordering_keys to postgres:\/\/.*\n$/);
      else assert.match(r.stdout, /^outbox: postgres:\/\/\S+ is already up to date\n$/);
    }
    assert.equal(await tables(t.sql), ['__outbox_migrations', 'outbox_maintenance', 'outbox_published', 'outbox_published_idle', 'outbox_published_keys', 'outbox_published_relays', 'outbox_received']);
    assert.is(Number((await t.sql`select count(*) as n from __outbox_migrations`)[0]!.n), 9);
    const inboxKey = await t.sql`select indexname from pg_indexes where tablename = 'outbox_received' order by 1`;
    assert.equal(inboxKey.map((r) => r.indexname), ['outbox_received_message_id_queue_pk', 'outbox_received_received_at_idx'], 'the inbox is keyed per queue');
    assert.is((await t.sql`select relpersistence from pg_class where relname = 'outbox_published_idle'`)[0]!.relpersistence, 'u', 'the idle table is UNLOGGED');
    const indexes = (await t.sql`select indexname from pg_indexes where tablename = 'outbox_published' order by 1`).map((r) => r.indexname);
    assert.equal(indexes, ['outbox_published_failed_idx', 'outbox_published_key_head_idx', 'outbox_published_key_pending_idx', 'outbox_published_pending_seq_idx', 'outbox_published_pkey', 'outbox_published_sent_at_idx']);
    assert.is((await t.sql`select count(*) as n from pg_trigger where tgname = 'outbox_published_notify'`)[0]!.n, '1');
  } finally {
    await t.drop();
  }
});

test('migrate on PGlite (in memory), twice; the helpers work in a PGlite transaction and roll back with it', async () => {
  const client = new PGlite();
  try {
    const db = drizzle({ client }) as unknown as OutboxDb;
    assert.is((await migrate(db)).applied.length, 9);
    assert.equal((await migrate(db)).applied, [], 'the second run applies nothing');
    const sql = (q: TemplateStringsArray) => client.query(q.join(''));
    assert.equal(await tables(sql), ['__outbox_migrations', 'outbox_maintenance', 'outbox_published', 'outbox_published_idle', 'outbox_published_keys', 'outbox_published_relays', 'outbox_received']);
    assert.is(rowsOf(await client.query('select count(*)::int as n from __outbox_migrations'))[0]!.n, 9);
    await client.exec(schemaSql);
    await db.transaction((tx) => insertOrderWithOutbox(tx, { total: '5.00' }));
    await db
      .transaction(async (tx) => {
        await insertOrderWithOutbox(tx, { total: '6.00' });
        throw new Error('undo');
      })
      .catch(() => {});
    const outbox = rowsOf(await client.query('select destination, body from outbox_published order by seq'));
    assert.equal(outbox.map((r) => r.destination), ['/topic/orders', '/topic/orders-slim.v1', '/topic/orders-billing']);
    assert.equal(outbox[2]!.body, { orderId: 1, cents: 500 });
  } finally {
    await client.close();
  }
});

test('custom table names: generate + migrate (twice) + the helpers write to the renamed table; its trigger notifies its channel while a relay is listed in its idle table', async () => {
  const t = await createTestDatabase({ migrate: false });
  try {
    const configFile = join(WORK, 'custom.config.ts');
    const fixture = JSON.stringify(join(ROOT, 'test/fixtures/shop/schema.ts'));
    const index = JSON.stringify(join(ROOT, 'src/index.ts'));
    writeFileSync(
      configFile,
      `import { defineConfig } from ${index};\nimport { orders } from ${fixture};\n` +
        `export default defineConfig({ out: './custom-out', tables: { published: 'shop_events', received: 'shop_inbox', maintenance: 'shop_maint' },\n` +
        `  models: { order: { table: orders, publish: [{ destination: '/topic/orders', fields: ['total'] }] } } });\n`,
    );
    for (const run of [1, 2]) {
      const r = cli(['migrate', '--config', configFile], { DATABASE_URL: t.url });
      assert.is(r.status, 0, `run ${run}: ${r.stderr}`);
    }
    // The idle table follows the published one's name unless it is named itself.
    assert.equal(await tables(t.sql), ['__shop_events_migrations', 'shop_events', 'shop_events_idle', 'shop_events_keys', 'shop_events_relays', 'shop_inbox', 'shop_maint']);

    const { default: config } = await import(configFile);
    const { files } = generate({ configPath: configFile, config, runtimeImport: JSON.parse(index).replace(/\.ts$/, '.js') });
    await writeGenerated(files);
    const helpers = await import(join(WORK, 'custom-out/index.ts'));
    await t.sql.unsafe(schemaSql);
    await armRelay(t, 'shop_events_idle');
    const { woken } = await listening(t, 'shop_events');
    await t.db.transaction((tx) => helpers.insertOrderWithOutbox(tx, { total: '9.99' }));
    assert.is(await woken, 'notified');
    const rows = await t.sql`select destination, body from shop_events`;
    assert.equal(rows.map((r) => [r.destination, r.body]), [['/topic/orders', { id: 1, total: '9.99' }]]);
  } finally {
    await t.drop();
  }
});

test('own migrations: the generated schema (as drizzle-kit creates it) plus outbox-trigger.sql, applied twice, wake a listener while a relay is listed as idle', async () => {
  const t = await createTestDatabase({ migrate: false });
  try {
    const golden = join(ROOT, 'test/fixtures/shop/golden');
    // drizzle/0000_init.sql and 0002_relay_idle.sql are what drizzle-kit generates from schema.ts (generate.test.ts checks that).
    for (const file of ['0000_init.sql', '0002_relay_idle.sql']) {
      await t.sql.unsafe(readFileSync(join(ROOT, 'drizzle', file), 'utf8').replaceAll('--> statement-breakpoint', ''));
    }
    const trigger = readFileSync(join(golden, 'outbox-trigger.sql'), 'utf8').replaceAll('--> statement-breakpoint', '');
    await t.sql.unsafe(trigger);
    await t.sql.unsafe(trigger);
    await t.sql.unsafe(schemaSql);
    assert.is((await t.sql`select relpersistence from pg_class where relname = 'outbox_published_idle'`)[0]!.relpersistence, 'u');
    await armRelay(t, 'outbox_published_idle');
    const { woken } = await listening(t, 'outbox_published');
    await t.db.transaction((tx) => insertOrderWithOutbox(tx, { total: '1.00' }));
    assert.is(await woken, 'notified');
  } finally {
    await t.drop();
  }
});

test.run();

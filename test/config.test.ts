import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBrokerUrl } from '../src/config/broker-url.js';
import { resolveConfig } from '../src/config/resolve.js';
import { OutboxError } from '../src/errors.js';
import { createTestDatabase } from './helpers/db.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, migrationsFolder } from '../src/db/migrate.js';

test("defaults match django-outbox-pattern's where theirs were not a bug", () => {
  const c = resolveConfig({}, {});
  assert.equal(c.broker.hosts, [{ host: '127.0.0.1', port: 61613 }]);
  assert.is(c.broker.vhost, '/');
  assert.equal(c.broker.heartbeat, [10_000, 10_000]);
  assert.is(c.broker.maxBackoff, 3600);
  assert.is(c.relay.maxAttempts, 50);
  assert.is(c.relay.batchSize, 200);
  assert.is(c.consumer.shutdownTimeout, 90);
  assert.is(c.retention.days, 30);
  assert.equal(c.database, { pglite: './.outbox-data', maxBackoff: 30 });
});

test('DATABASE_URL and OUTBOX_BROKER_URL override the file', () => {
  const c = resolveConfig(
    { database: { url: 'postgres://a@x/y' }, broker: { vhost: 'file', heartbeat: [1000, 0] } },
    { DATABASE_URL: 'postgres://b@z/w', OUTBOX_BROKER_URL: 'stomp+ssl://u%40x:p%3Aq@h1:1234/v%2Fh, stomp://h2' },
  );
  assert.equal(c.database, { url: 'postgres://b@z/w', maxBackoff: 30 });
  assert.equal(c.broker.hosts, [{ host: 'h1', port: 1234 }, { host: 'h2', port: 61613 }]);
  assert.is(c.broker.login, 'u@x');
  assert.is(c.broker.passcode, 'p:q');
  assert.is(c.broker.vhost, 'v/h');
  assert.equal(c.broker.tls, {});
  assert.equal(c.broker.heartbeat, [1000, 0], 'keys the URL does not carry stay from the file');
});

test("the scheme of OUTBOX_BROKER_URL turns TLS on or off, keeping the file's TLS options", () => {
  const file = { broker: { tls: { ca: 'CA PEM', servername: 'broker.internal' } } };
  assert.is(resolveConfig(file, { OUTBOX_BROKER_URL: 'stomp://h:61613' }).broker.tls, false);
  assert.equal(resolveConfig(file, { OUTBOX_BROKER_URL: 'stomp+ssl://h:61614' }).broker.tls, { ca: 'CA PEM', servername: 'broker.internal' });
  assert.equal(resolveConfig({}, { OUTBOX_BROKER_URL: 'stomp+ssl://h:61614' }).broker.tls, {});
  assert.equal(resolveConfig(file, {}).broker.tls, { ca: 'CA PEM', servername: 'broker.internal' });
});

test('a bad broker URL or number is an E_CONFIG that says what to write', () => {
  for (const bad of ['http://x', 'not a url', '']) {
    try {
      parseBrokerUrl(bad);
      assert.unreachable(`accepted ${bad}`);
    } catch (e) {
      assert.instance(e, OutboxError);
      assert.is((e as OutboxError).code, 'E_CONFIG');
    }
  }
  assert.throws(() => resolveConfig({ relay: { batchSize: 0 } }, {}), /relay\.batchSize must be a positive number/);
  assert.throws(() => resolveConfig({ broker: { heartbeat: [-1, 0] } }, {}), /broker\.heartbeat\[0\]/);
});

test('secrets in a bad broker URL are not echoed', () => {
  const error = (() => { try { parseBrokerUrl('ftp://user:hunter2@host'); } catch (e) { return e as Error; } })();
  assert.ok(error, 'an ftp:// URL must be refused');
  assert.not.match(error!.message, /hunter2/);
});

test('migrate is idempotent and creates the tables', async () => {
  const t = await createTestDatabase({ migrate: false });
  try {
    await migrate(t.db);
    await migrate(t.db);
    const tables = await t.sql`select tablename from pg_tables where schemaname = 'public' order by 1`;
    const names = tables.map((r) => r.tablename);
    for (const n of ['outbox_published', 'outbox_received', 'outbox_maintenance', 'outbox_published_idle', '__outbox_migrations']) {
      assert.ok(names.includes(n), `missing ${n}: ${names.join(',')}`);
    }
    const [row] = await t.sql`select count(*)::int as count from public.__outbox_migrations`;
    // One record per shipped migration: the second run applied nothing.
    const shipped = JSON.parse(readFileSync(join(migrationsFolder(), 'meta/_journal.json'), 'utf8')).entries.length;
    assert.is(row?.count, shipped);
    assert.ok(shipped >= 5, 'including 0004_inbox_queue_scope');
  } finally {
    await t.drop();
  }
});

test.run();

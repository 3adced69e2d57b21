/**
 * runTransaction on node-postgres: the callback's own error is the one thrown; a ROLLBACK that could not be
 * sent (the backend was terminated) is reported; aborting its signal closes the connection, so a statement
 * stuck on it fails at once, or ends the wait for a connection from a full pool; and after all of that the
 * pool still has every connection to give.
 */
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTransaction } from '../../src/db/transaction.js';
import type { OutboxDb } from '../../src/db/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
let pool: pg.Pool;
let db: OutboxDb;

test.before(async () => {
  t = await createTestDatabase({ migrate: false });
  await t.sql`create table rows (n int)`;
  // No 'error' listener on the clients: runTransaction must add its own while it holds one.
  pool = new pg.Pool({ connectionString: t.url, max: 2 });
  pool.on('error', () => {});
  db = drizzle({ client: pool }) as unknown as OutboxDb;
});
test.after(async () => {
  await pool?.end();
  await t?.drop();
});

const count = async () => Number((await pool.query('select count(*) as n from rows')).rows[0].n);

test("the callback's error is thrown, the work rolled back, and ROLLBACK's own failure reported", async () => {
  let rollbackFailed: unknown;
  const boom = new Error('boom');
  const thrown = await runTransaction(db, async (tx) => {
    await tx.execute(sql`insert into rows values (1)`);
    throw boom;
  }, { onRollbackFailed: (e) => (rollbackFailed = e) }).catch((e: unknown) => e);
  assert.is(thrown, boom);
  assert.is(rollbackFailed, undefined, 'the rollback went through');
  assert.is(await count(), 0);

  const terminated = await runTransaction(db, async (tx) => {
    await tx.execute(sql`insert into rows values (2)`);
    await tx.execute(sql`select pg_terminate_backend(pg_backend_pid())`).catch(() => {});
    throw boom;
  }, { onRollbackFailed: (e) => (rollbackFailed = e) }).catch((e: unknown) => e);
  assert.is(terminated, boom, 'still the callback’s error, not the rollback’s');
  assert.ok(rollbackFailed, 'the failed rollback is reported');
  assert.is(await count(), 0);
});

test('aborting the signal closes the connection: a statement stuck on it fails at once', async () => {
  const stop = new AbortController();
  const started = performance.now();
  setTimeout(() => stop.abort(), 200);
  const error = await runTransaction(db, async (tx) => {
    await tx.execute(sql`insert into rows values (3)`);
    await tx.execute(sql`select pg_sleep(30)`);
  }, { signal: stop.signal }).catch((e: unknown) => e);
  assert.ok(error instanceof Error, String(error));
  assert.ok(performance.now() - started < 5_000, 'not the 30 s the statement asked for');
  assert.is(await count(), 0, 'PostgreSQL rolled back what had not committed');
});

test('aborting while every pooled connection is taken ends the wait; the connection that comes later goes back', async () => {
  const held = await Promise.all([pool.connect(), pool.connect()]);
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error('deadline')), 100);
  const error = await runTransaction(db, async () => {}, { signal: stop.signal }).catch((e: unknown) => e);
  assert.is((error as Error).message, 'deadline');
  for (const client of held) client.release();
});

test('afterwards the pool gives every connection: none was leaked or given back broken', async () => {
  const held = await Promise.all([pool.connect(), pool.connect()]);
  for (const client of held) {
    assert.is((await client.query('select 1 as one')).rows[0].one, 1);
    client.release();
  }
  await runTransaction(db, async (tx) => {
    await tx.execute(sql`insert into rows values (4)`);
  });
  assert.is(await count(), 1);
});

test.run();

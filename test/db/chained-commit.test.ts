/**
 * A COMMIT that carries the next transaction's BEGIN and first statement (TransactionState.chain,
 * src/db/chained-commit.ts): one round trip for both, the connection handed on inside the next transaction.
 * The COMMIT's outcome is its own: known as soon as PostgreSQL answers it, however long the next statement
 * waits after it; a COMMIT that fails takes nothing of the next transaction with it; a failure after it
 * is the next transaction's.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sqlState } from '../../src/db/errors.js';
import { runTransaction, type ChainLink, type OpenTransaction } from '../../src/db/transaction.js';
import { rowsOf, type OutboxDb } from '../../src/db/types.js';
import type { TestDatabase } from '../helpers/db.js';
import { echoDatabase, echoInsert } from '../helpers/one-connection.js';

let t: TestDatabase;
let pool: pg.Pool;
let db: OutboxDb;
/** Statements the pool's one connection was sent, each one round trip (text, or a prepared statement's name). */
let sent: string[];

const insert = echoInsert;

test.before(async () => {
  ({ t, pool, db, sent } = await echoDatabase());
  // Checked at COMMIT: a transaction that breaks it fails there, not at its insert.
  await t.sql`create table late (id int primary key, echo_id int references echo (id) deferrable initially deferred)`;
  // The connection prepares the statement once, as any first use does.
  await runTransaction(db, (_tx, s) => s.prepared!(insert, ['1', 'one', null]));
});
test.after(async () => {
  await pool?.end();
  await t?.drop();
});

/** Committed rows, read on another connection. */
const committed = async (id: number): Promise<string[]> => (await t.sql`select t from echo where id = ${id}`).map((r) => r.t as string);

/** Runs a transaction that inserts `id` and whose COMMIT carries the insert of `next`; returns the link. */
async function chaining(id: number, next: unknown[], before?: (tx: Parameters<Parameters<typeof runTransaction>[1]>[0]) => Promise<unknown>): Promise<ChainLink> {
  let link: ChainLink | undefined;
  await runTransaction(db, async (tx, s) => {
    await s.prepared!(insert, [String(id), `row ${id}`, null]);
    await before?.(tx);
    link = s.chain!(insert, next);
    assert.ok(link, 'armed');
  });
  return link!;
}

/** Runs the transaction the COMMIT opened: its first statement's rows, then COMMIT. */
async function adopting(open: OpenTransaction, values: unknown[]): Promise<unknown> {
  return runTransaction(db, async (_tx, s) => s.prepared!(insert, values), { adopt: open });
}

test('the COMMIT carries the next BEGIN and statement in one round trip, and the connection goes on inside that transaction', async () => {
  sent.length = 0;
  const link = await chaining(2, ['3', 'three', '{"n":3}']);
  assert.equal(sent, [
    `begin; execute ${insert.name}('2', 'row 2', null)`,
    `commit; begin; set local lock_timeout = '50ms'; execute ${insert.name}('3', 'three', '{"n":3}'); set local lock_timeout to default`,
  ]);
  assert.equal(await committed(2), ['row 2'], 'the first transaction is committed');
  assert.equal(await committed(3), [], 'the next one is open, not committed');
  assert.ok(link.open, 'the connection is handed on');
  assert.is(pool.idleCount, 0, 'and is not back in the pool');

  sent.length = 0;
  let lockTimeout: unknown;
  const back = await runTransaction(db, async (tx, s) => {
    const rows = await s.prepared!(insert, ['3', 'three', '{"n":3}']);
    lockTimeout = rowsOf(await tx.execute(sql`show lock_timeout`));
    return rows;
  }, { adopt: link.open });
  assert.equal(back, [{ t: 'three', j: '{"n": 3}' }], 'its rows were already on their way (as text)');
  assert.equal(sent, ['show lock_timeout', 'commit'], 'nothing sent for them');
  assert.equal(lockTimeout, [{ lock_timeout: '0' }], 'what follows it has the connection’s lock_timeout again');
  assert.equal(await committed(3), ['three']);
  assert.is(pool.idleCount, 1, 'released once, at the end of the transaction it went on to');
});

test('a COMMIT that fails takes nothing of the next transaction with it, and the connection goes back to the pool', async () => {
  const failed = await chaining(10, ['11', 'eleven', null], (tx) => tx.execute(sql`insert into late values (10, 999)`)).catch((e: unknown) => e);
  assert.is(sqlState(failed), '23503', 'the deferred foreign key fails the COMMIT');
  assert.equal(await committed(10), []);
  assert.equal(await committed(11), [], 'the next statement did not run');
  assert.is(pool.idleCount, 1);
  await runTransaction(db, (_tx, s) => s.prepared!(insert, ['11', 'eleven', null]));
  assert.equal(await committed(11), ['eleven'], 'the connection works on');
});

test('a COMMIT that PostgreSQL answers with ROLLBACK (the handler caught a failed statement) fails, and what went with it is rolled back', async () => {
  const failed = await chaining(50, ['51', 'fifty-one', null], (tx) => tx.execute(sql`select 1/0`).catch(() => {})).catch((e: unknown) => e);
  assert.match(String((failed as { cause?: unknown }).cause), /COMMIT rolled the transaction back/, 'drizzle’s error for the COMMIT, caused by it');
  assert.equal(await committed(50), []);
  assert.equal(await committed(51), [], 'the next statement ran, and was rolled back');
  assert.is(pool.idleCount, 1);
  await runTransaction(db, (_tx, s) => s.prepared!(insert, ['51', 'fifty-one', null]));
  assert.equal(await committed(51), ['fifty-one'], 'the connection works on');
});

test('after the COMMIT went through, a failure of the next statement is the next transaction’s', async () => {
  const link = await chaining(20, ['21', 'twenty-one', '{not json']);
  assert.equal(await committed(20), ['row 20']);
  const failed = await adopting(link.open!, ['21', 'twenty-one', '{not json']).catch((e: unknown) => e);
  assert.is(sqlState(failed), '22P02', 'its own error');
  assert.equal(await committed(21), []);
  assert.is(pool.idleCount, 1);
  await runTransaction(db, (_tx, s) => s.prepared!(insert, ['21', 'twenty-one', null]));
  assert.equal(await committed(21), ['twenty-one'], 'rolled back cleanly: the connection works on');
});

test('a next statement that would wait on a lock does not hold the COMMIT’s answer back: it goes again on its own, and waits there', async () => {
  const locker = new pg.Client({ connectionString: t.url });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query(`insert into echo (id, t) values (31, 'locker')`);
    // The next statement inserts the same key: it waits until the locker's transaction ends.
    const link = await chaining(30, ['31', 'thirty-one', null]);
    assert.equal(await committed(30), ['row 30'], 'the first transaction is through while the lock is held');
    sent.length = 0;
    let settled = false;
    const next = adopting(link.open!, ['31', 'thirty-one', null]).finally(() => (settled = true));
    await waitForLockWait();
    assert.is(settled, false, 'the next statement waits, in its own transaction');
    await locker.query('rollback');
    assert.equal(await next, [{ t: 'thirty-one', j: null }]);
    assert.equal(sent, ['rollback', `begin; execute ${insert.name}('31', 'thirty-one', null)`, 'commit']);
    assert.equal(await committed(31), ['thirty-one']);
    const [{ lock_timeout }] = (await pool.query('show lock_timeout')).rows;
    assert.is(lock_timeout, '0', 'the connection’s lock_timeout is as it was');
  } finally {
    await locker.end();
  }
});

/** Until a session of the test database waits on a lock. */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await t.sql`select count(*)::int as n from pg_stat_activity where datname = ${t.name} and wait_event_type = 'Lock'`;
    if (row!.n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no session came to wait on a lock');
}

test('where the server no longer has the statement (a pooler in transaction mode), the next transaction sends it whole', async () => {
  // Behind node-postgres's back: the connection still believes it prepared.
  const link = await chaining(40, ['41', 'forty-one', null], (tx) => tx.execute(sql.raw(`deallocate ${insert.name}`)));
  assert.equal(await committed(40), ['row 40']);
  sent.length = 0;
  assert.equal(await adopting(link.open!, ['41', 'forty-one', null]), [{ t: 'forty-one', j: null }]);
  assert.equal(sent, ['rollback', 'begin', insert.text, 'commit'], 'started over, the statement sent whole');
  assert.equal(await committed(41), ['forty-one']);
  let armed: unknown;
  await runTransaction(db, async (_tx, s) => {
    await s.prepared!(insert, ['42', 'forty-two', null]);
    armed = s.chain!(insert, ['43', 'forty-three', null]);
  });
  assert.is(armed, undefined, 'and that connection stops chaining named statements');
});

test.run();

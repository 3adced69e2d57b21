/**
 * A transaction's BEGIN waits for its first statement (src/db/deferred-begin.ts): a statement the connection
 * has prepared travels with it in one round trip, and is part of the transaction; any other first statement
 * gets a BEGIN of its own first; a transaction that ran nothing sends nothing. Values written into the
 * merged query come back exactly as they went in, whatever they hold, with standard_conforming_strings on or
 * off; one that cannot be written into a query (a NUL) goes as a parameter, as it always did.
 */
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import fc from 'fast-check';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sqlState } from '../../src/db/errors.js';
import { runTransaction, type TransactionState } from '../../src/db/transaction.js';
import type { OutboxDb } from '../../src/db/types.js';
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
});
test.after(async () => {
  await pool?.end();
  await t?.drop();
});

const rows = async (id: number): Promise<Array<{ t: string | null; j: unknown }>> =>
  (await pool.query('select t, j from echo where id = $1', [id])).rows;

/** Runs `fn` in a transaction and returns what it sent. */
async function sending(fn: (state: TransactionState, tx: Parameters<Parameters<typeof runTransaction>[1]>[0]) => Promise<unknown>): Promise<string[]> {
  sent.length = 0;
  await runTransaction(db, (tx, state) => fn(state, tx).then(() => undefined));
  return [...sent];
}

test('a prepared first statement goes with BEGIN in one round trip once the connection knows it, inside the transaction', async () => {
  // The connection prepares it the first time, after a BEGIN of its own.
  assert.equal(await sending((s) => s.prepared!(insert, ['1', 'one', '{"n":1}'])), ['begin', insert.name, 'commit']);
  assert.equal(await sending((s) => s.prepared!(insert, ['2', 'two', '{"n":2}'])), [`begin; execute ${insert.name}('2', 'two', '{"n":2}')`, 'commit']);
  assert.equal(await rows(2), [{ t: 'two', j: { n: 2 } }]);

  const boom = new Error('boom');
  sent.length = 0;
  const thrown = await runTransaction(db, async (_tx, s) => {
    const back = await s.prepared!(insert, ['3', 'three', null]);
    assert.equal(back, [{ t: 'three', j: null }], 'its rows come back');
    throw boom;
  }).catch((e: unknown) => e);
  assert.is(thrown, boom);
  assert.equal(sent, [`begin; execute ${insert.name}('3', 'three', null)`, 'rollback'], 'BEGIN and the statement in one, then ROLLBACK');
  assert.equal(await rows(3), [], 'rolled back with the transaction');
});

test('any other first statement gets a BEGIN of its own, and is inside the transaction', async () => {
  sent.length = 0;
  await runTransaction(db, async (tx) => {
    await tx.execute(sql`insert into echo (id, t) values (10, 'ten')`);
    throw new Error('roll back');
  }).catch(() => {});
  assert.is(sent[0], 'begin');
  assert.is(sent.length, 3, 'BEGIN, the insert, ROLLBACK');
  assert.equal(await rows(10), []);
});

test('statements issued together while BEGIN is on its way go after it, in the order they were issued', async () => {
  await pool.query('create table parent (id int primary key); create table child (id int references parent)');
  // The child's foreign key needs the parent's row: issued second, it must run second.
  await runTransaction(db, async (tx) => {
    await Promise.all([tx.execute(sql`insert into parent values (1)`), tx.execute(sql`insert into child values (1)`)]);
  });
  assert.equal((await pool.query('select id from child')).rows, [{ id: 1 }]);

  // A statement issued and not awaited is still part of the transaction: it goes before the ROLLBACK.
  let late: Promise<unknown> | undefined;
  await runTransaction(db, async (tx) => {
    late = tx.execute(sql`insert into parent values (2)`).catch(() => {});
    throw new Error('roll back');
  }).catch(() => {});
  await late;
  assert.equal((await pool.query('select id from parent where id = 2')).rows, [], 'rolled back with the transaction');
});

test('a transaction that ran no statement sends nothing, committed or rolled back', async () => {
  assert.equal(await sending(async () => {}), []);
  sent.length = 0;
  await runTransaction(db, async () => {
    throw new Error('nothing ran');
  }).catch(() => {});
  assert.equal(sent, []);
});

test('a value holding NUL goes as a parameter: PostgreSQL refuses it there, and the transaction rolls back', async () => {
  await sending((s) => s.prepared!(insert, ['20', 'warm-up', null]));
  sent.length = 0;
  const error = await runTransaction(db, (_tx, s) => s.prepared!(insert, ['21', 'a\0b', null])).catch((e: unknown) => e);
  assert.is(sqlState(error), '22021');
  assert.equal(sent, ['begin', insert.name, 'rollback']);
  assert.equal(await rows(21), []);
});

test('values written into the merged query come back exactly, with standard_conforming_strings on and off', async () => {
  await sending((s) => s.prepared!(insert, ['99', 'warm-up', null]));
  let id = 1000;
  // Quotes, backslashes and the characters of a query's own syntax often; anything else too.
  const tricky = fc.constantFrom("'", "''", '\\', '\\\'', '"', '$1', ';', ')', '\n', 'E', ' ', 'é', '😀');
  const text = fc.string({ unit: fc.oneof(tricky, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 }).filter((s) => !s.includes('\0'));
  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)).filter((s) => !s.includes('\\u0000'));
  for (const conforming of ['off', 'on']) {
    await pool.query(`set standard_conforming_strings = ${conforming}`);
    await fc.assert(
      fc.asyncProperty(text, json, async (s, j) => {
        const merged = ++id;
        const parameters = ++id;
        const path = await sending((st) => st.prepared!(insert, [String(merged), s, j]));
        assert.ok(path[0]!.startsWith('begin; execute'), 'the merged path');
        await pool.query({ text: insert.text, values: [parameters, s, j] });
        const [a] = await rows(merged);
        const [b] = await rows(parameters);
        assert.equal(a, b, 'the same as through parameters');
        // Lone surrogates cannot be encoded as UTF-8: both paths store U+FFFD for them.
        if (Buffer.from(s).toString() === s) assert.is(a!.t, s);
      }),
      { numRuns: 150 },
    );
  }
});

test('where the server does not know a statement the connection prepared (a pooler in transaction mode), the statement goes whole', async () => {
  // A pool of its own: the connection stops naming statements for good.
  const own = new pg.Pool({ connectionString: t.url, max: 1 });
  own.on('error', () => {});
  const ownDb = drizzle({ client: own }) as unknown as OutboxDb;
  const trace: string[] = [];
  own.on('connect', (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const c = args[0] as string | { name?: string; text: string };
      const text = typeof c === 'string' ? c : c.text;
      trace.push(typeof c !== 'string' && c.name ? 'named' : /^\w+$/.test(text) ? text : text.startsWith('begin;') ? 'begin; execute' : 'whole');
      return query(...args);
    };
  });
  try {
    await runTransaction(ownDb, (_tx, s) => s.prepared!(insert, ['30', 'known', null]));
    // The server forgets it; node-postgres still thinks it prepared.
    await own.query(`deallocate ${insert.name}`);

    // Not the transaction's first statement: the failure is the caller's, and the transaction rolls back.
    const error = await runTransaction(ownDb, async (tx, s) => {
      await tx.execute(sql`select 1`);
      return s.prepared!(insert, ['31', 'second', null]);
    }).catch((e: unknown) => e);
    assert.is(sqlState(error), '26000');
    assert.equal(await rowsOn(own, 31), []);

    // The first statement: the transaction starts again with it sent whole, and commits.
    trace.length = 0;
    await runTransaction(ownDb, (_tx, s) => s.prepared!(insert, ['32', 'merged', null]));
    assert.equal(trace, ['begin; execute', 'rollback', 'begin', 'whole', 'commit']);
    assert.equal(await rowsOn(own, 32), [{ t: 'merged', j: null }]);

    trace.length = 0;
    await runTransaction(ownDb, (_tx, s) => s.prepared!(insert, ['33', 'after', null]));
    assert.equal(trace, ['begin', 'whole', 'commit'], 'from then on, whole, with a BEGIN of its own');
    assert.equal(await rowsOn(own, 33), [{ t: 'after', j: null }]);
  } finally {
    await own.end();
  }
});

test('where the server already has a statement of that name node-postgres did not prepare (another client’s, through a pooler), the statement goes whole', async () => {
  const own = new pg.Pool({ connectionString: t.url, max: 1 });
  own.on('error', () => {});
  const ownDb = drizzle({ client: own }) as unknown as OutboxDb;
  try {
    // Prepared on the server connection by someone else: node-postgres's Parse of the name is refused (42P05).
    await own.query(`prepare ${insert.name} (int, text, jsonb) as ${insert.text}`);
    const trace: string[] = [];
    const client = await own.connect();
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const c = args[0] as string | { name?: string; text: string };
      trace.push(typeof c === 'string' ? c : c.name ? 'named' : /^\w+$/.test(c.text) ? c.text : 'whole');
      return query(...args);
    };
    client.release();
    await runTransaction(ownDb, (_tx, s) => s.prepared!(insert, ['50', 'taken', null]));
    assert.equal(trace, ['begin', 'named', 'rollback', 'begin', 'whole', 'commit']);
    assert.equal(await rowsOn(own, 50), [{ t: 'taken', j: null }]);
  } finally {
    await own.end();
  }
});

const rowsOn = async (p: pg.Pool, id: number) => (await p.query('select t, j from echo where id = $1', [id])).rows;

test.run();

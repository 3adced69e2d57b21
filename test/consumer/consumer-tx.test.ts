/**
 * The `(payload, { tx })` form on node-postgres, as `outbox consume` runs it: the consumer opens the
 * transaction, records the message and commits. Its outcomes, and what happens when the database fails
 * under it: a terminated backend — while the handler runs, and at COMMIT — makes the consumer run the
 * handler again, never dead-letter the message, and the effect lands exactly once.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConsumerStats, Handler, HandlerContext, Payload } from '../../src/consumer/types.js';
import { isOutboxError } from '../../src/errors.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startProxy } from '../helpers/proxy.js';
import {
  captureLogger, cleanupQueues, createEffects, declareQueues, dop, drainDeadLetters, nodePostgres, publish, publisher, sleep, startConsumer, testConfig,
} from './helpers/env.js';

const APP = 'consumer-tx-test';
let t: TestDatabase;
let pg: Awaited<ReturnType<typeof nodePostgres>>;
let pub: StompSession;
let admin: postgres.Sql;
// One queue for the file: every rabbitmqctl call costs seconds on a busy machine.
const queue = uniqueName('consumer-tx');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pg = await nodePostgres(`${t.url}?application_name=${APP}`);
  pub = await publisher(testConfig(t.url));
  admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await declareQueues(testConfig(t.url), destination, queue);
});
test.after(async () => {
  await pub?.disconnect();
  await admin?.end();
  await pg?.close();
  cleanupQueues(queue);
  await t?.drop();
});

/** Ends every session the consumer has open on the test database. */
const terminateConsumerSessions = async (): Promise<number> =>
  (await admin`select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = ${t.name} and application_name = ${APP}`).length;

const effects = async (id: string): Promise<number> => (await t.sql`select count(*)::int as n from effects where message_id = ${id}`)[0]!.n;
const recorded = async (id: string): Promise<number> => (await t.sql`select count(*)::int as n from outbox_received where message_id = ${id}`)[0]!.n;
const insertEffect = (p: Payload, { tx }: HandlerContext) => tx.execute(sql`insert into effects (message_id) values (${p.messageId})`);

/** Runs a consumer with `handler` until `done()` holds, then stops it; the message ids published first. */
async function consume(handler: Handler, ids: string[], done: (s: ConsumerStats) => boolean, extra: Parameters<typeof testConfig>[1] = {}, db = pg.db) {
  for (const id of ids) await publish(pub, destination, { id }, dop(id));
  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db, config: testConfig(t.url, extra), handler, destination, queue, logger });
  const stats = () => consumer.stats();
  let ended: unknown;
  running.then(() => (ended = 'resolved'), (e: unknown) => (ended = e));
  await waitFor(() => done(stats()) || ended !== undefined, 20_000);
  const before = ended; // how run() had ended, if it had, before stop()
  await consumer.stop();
  await running.catch(() => {});
  return { stats: stats(), logger, ended: before };
}

test('the effect and the inbox row commit together, without save(); a redelivery is then recorded', async () => {
  const id = randomUUID();
  let calls = 0;
  const handler = async (p: Payload, ctx: HandlerContext) => {
    calls++;
    await insertEffect(p, ctx);
  };
  const first = await consume(handler, [id], (s) => s.acked === 1);
  assert.equal([first.stats.acked, await effects(id), await recorded(id)], [1, 1, 1]);
  const again = await consume(handler, [id], (s) => s.recorded === 1);
  assert.equal([again.stats.recorded, calls, await effects(id)], [1, 1, 1]);
});

test('nack() and a throw roll the effect back and dead-letter the message', async () => {
  const [nacked, threw] = [randomUUID(), randomUUID()];
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    await insertEffect(p, ctx);
    if (p.messageId === nacked) return p.nack();
    throw new Error('boom');
  }, [nacked, threw], (s) => s.nacked + s.failed === 2);
  assert.equal([r.stats.nacked, r.stats.failed], [1, 1]);
  assert.equal([await effects(nacked), await effects(threw), await recorded(nacked), await recorded(threw)], [0, 0, 0, 0]);
  const dead = await drainDeadLetters(testConfig(t.url), queue, 2);
  assert.equal(dead.map((d) => d.id).sort(), [nacked, threw].sort());
});

test("an ECONNRESET from the handler's own HTTP call is the handler's failure, not a database outage: dead-lettered, not retried", async () => {
  const id = randomUUID();
  let calls = 0;
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    calls++;
    await insertEffect(p, ctx);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }, [id], (s) => s.failed === 1);
  assert.equal([r.stats.failed, calls, await effects(id)], [1, 1, 0]);
  await drainDeadLetters(testConfig(t.url), queue, 1);
});

test("pg_terminate_backend of the consumer's sessions mid-handler: the handler runs again, the effect lands once, nothing is dead-lettered", async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const calls: string[] = [];
  let terminated = false;
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    calls.push(p.messageId);
    await insertEffect(p, ctx);
    if (!terminated) {
      terminated = true;
      assert.ok((await terminateConsumerSessions()) >= 1);
      await sleep(100);
      // Returns on a dead connection: the consumer's own inbox insert is what fails.
    }
  }, [a], (s) => s.acked === 1);
  assert.equal([r.stats.acked, r.stats.failed, r.stats.invalid], [1, 0, 0], JSON.stringify(r.stats));
  assert.equal(calls, [a, a], 'run again after the outage');
  assert.equal([await effects(a), await recorded(a)], [1, 1]);
  assert.ok(r.logger.said(/cannot run handlers' transactions/).length >= 1, 'the outage is logged');

  terminated = false;
  calls.length = 0;
  const r2 = await consume(async (p: Payload, ctx: HandlerContext) => {
    calls.push(p.messageId);
    await insertEffect(p, ctx);
    if (!terminated) {
      terminated = true;
      await terminateConsumerSessions();
      await sleep(100);
      // One more statement on the dead connection: the handler throws, and the ROLLBACK cannot be sent.
      await ctx.tx.execute(sql`select 1`);
    }
  }, [b], (s) => s.acked === 1);
  assert.equal([r2.stats.acked, r2.stats.failed], [1, 0], JSON.stringify(r2.stats));
  assert.equal(calls, [b, b]);
  assert.equal([await effects(b), await recorded(b)], [1, 1]);
});

test('a backend terminated during COMMIT: the consumer looks for the inbox row, finds none, and runs the handler again', async () => {
  // A deferred trigger makes COMMIT itself take a while, long enough to end its backend meanwhile.
  await t.sql`create table slow_commit (id int)`;
  await t.sql.unsafe(`create function slow_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(0.8); return null; end $$`);
  await t.sql.unsafe(`create constraint trigger slow_commit after insert on slow_commit deferrable initially deferred for each row execute function slow_commit()`);
  const id = randomUUID();
  let calls = 0;
  const killer = (async () => {
    await waitFor(async () => (await admin`select 1 from pg_stat_activity where datname = ${t.name} and query like '%commit%' and state = 'active' and application_name = ${APP}`).length > 0, 20_000, 20);
    await terminateConsumerSessions();
  })();
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    calls++;
    await insertEffect(p, ctx);
    await ctx.tx.execute(sql`insert into slow_commit values (1)`);
  }, [id], (s) => s.acked === 1);
  await killer;
  assert.equal([r.stats.acked, r.stats.failed], [1, 0], JSON.stringify(r.stats));
  assert.is(calls, 2);
  assert.equal([await effects(id), await recorded(id)], [1, 1]);
  assert.ok(r.logger.said(/cannot run handlers' transactions/).length >= 1);
});

test('past consumer.handlerTimeout the transaction is closed: a handler stuck in a statement fails at once and frees its slot', async () => {
  const [stuck, next] = [randomUUID(), randomUUID()];
  let stuckError: unknown;
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    if (p.messageId === stuck) {
      try {
        await ctx.tx.execute(sql`select pg_sleep(30)`);
      } catch (error) {
        stuckError = error;
        throw error;
      }
    }
    await insertEffect(p, ctx);
  }, [stuck, next], (s) => s.acked === 1, { handlerTimeout: 1 });
  assert.equal([r.stats.timeout, r.stats.acked, r.stats.hung], [1, 1, 0], JSON.stringify(r.stats));
  assert.is(r.ended, undefined, 'the consumer did not give up: the slot came back');
  assert.ok(stuckError, 'the stuck statement failed when its connection was closed');
  assert.equal([await effects(stuck), await effects(next)], [0, 1]);
  await drainDeadLetters(testConfig(t.url), queue, 1);
});

test('an id recorded on this queue, or before queues scoped the inbox, is acked without running the handler', async () => {
  const [mine, legacy, elsewhere] = [randomUUID(), randomUUID(), randomUUID()];
  await t.sql`insert into outbox_received (message_id, queue, destination, body, headers) values
    (${mine}, ${queue}, '/topic/x', '{}', '{}'), (${legacy}, '', '/topic/x', '{}', '{}'), (${elsewhere}, 'another-queue', '/topic/x', '{}', '{}')`;
  const calls: string[] = [];
  const r = await consume(async (p: Payload, ctx: HandlerContext) => {
    calls.push(p.messageId);
    await insertEffect(p, ctx);
  }, [mine, legacy, elsewhere], (s) => s.recorded + s.acked === 3);
  assert.equal([r.stats.recorded, r.stats.acked], [2, 1], JSON.stringify(r.stats));
  assert.equal(calls, [elsewhere], "another queue's row is another scope: that one is handled");
  assert.equal([await effects(mine), await effects(legacy), await effects(elsewhere)], [0, 0, 1]);
});

/** A handler that runs a statement, catches its failure and returns, as a careless one would. */
const swallowsAFailure = (caught: unknown[]) => async (p: Payload, ctx: HandlerContext) => {
  await insertEffect(p, ctx);
  try {
    await ctx.tx.execute(sql`select 1 / 0`);
  } catch (error) {
    caught.push(error);
  }
};

// PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not an error: the consumer must notice
// the abort before it ACKs, or the message would be acked with nothing recorded.
test('a handler that catches a failed statement and returns: nothing commits, the message is dead-lettered, not acked', async () => {
  const id = randomUUID();
  const caught: unknown[] = [];
  const r = await consume(swallowsAFailure(caught), [id], (s) => s.failed === 1);
  assert.is(caught.length, 1, 'the statement failed inside the handler');
  assert.equal([r.stats.failed, r.stats.acked], [1, 0], JSON.stringify(r.stats));
  assert.equal([await effects(id), await recorded(id)], [0, 0]);
  assert.is(r.logger.said(/caught a failed statement and returned/).length, 1);
  await drainDeadLetters(testConfig(t.url), queue, 1);
});

test('the same when the failure and the end of the statement come in two packets', async () => {
  // node-postgres rejects the statement on the error message; the transaction's new status ('failed') comes
  // with the next one, ReadyForQuery. Held 200 ms apart here, as a loaded machine may deliver them.
  const proxy = await startProxy({ target: { host: '127.0.0.1', port: 5432 } });
  const viaProxy = await nodePostgres(`${t.url.replace('127.0.0.1:5432', `${proxy.host}:${proxy.port}`)}?application_name=${APP}`);
  try {
    proxy.split('down', afterErrorResponse, 200);
    const id = randomUUID();
    const caught: unknown[] = [];
    const r = await consume(swallowsAFailure(caught), [id], (s) => s.failed + s.acked === 1, {}, viaProxy.db);
    assert.is(caught.length, 1);
    assert.equal([r.stats.failed, r.stats.acked], [1, 0], JSON.stringify(r.stats));
    assert.equal([await effects(id), await recorded(id)], [0, 0]);
    await drainDeadLetters(testConfig(t.url), queue, 1);
  } finally {
    await viaProxy.close();
    await proxy.close();
  }
});

/** The offset just past the first ErrorResponse ('E') in a chunk of PostgreSQL's messages, if one is there. */
function afterErrorResponse(chunk: Buffer): number | undefined {
  for (let at = 0; at + 5 <= chunk.length; ) {
    const end = at + 1 + chunk.readUInt32BE(at + 1);
    if (chunk[at] === 0x45) return end;
    at = end;
  }
  return undefined;
}

test('a second parameter hidden by a default value: the consumer stops with E_CONFIG instead of dead-lettering', async () => {
  const id = randomUUID();
  // Declares one parameter (a default value does not count), so it is taken for the (payload) form.
  const handler = async (p: Payload, ctx: HandlerContext = {} as HandlerContext) => {
    await ctx.tx.execute(sql`insert into effects (message_id) values (${p.messageId})`);
  };
  const r = await consume(handler as Handler, [id], () => false);
  assert.ok(isOutboxError(r.ended, 'E_CONFIG'), String(r.ended));
  assert.match((r.ended as Error).message, /declares 1 parameter\(s\).*Declare both parameters/);
  assert.is(r.stats.failed + r.stats.nacked + r.stats.invalid, 0, 'nothing dead-lettered');

  // The message is still there; a wrapper with the form named explicitly handles it.
  const inner = async (p: Payload, ctx: HandlerContext) => insertEffect(p, ctx);
  const wrapped = (...args: [Payload, HandlerContext]) => inner(...args);
  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db: pg.db, config: testConfig(t.url), handler: wrapped, transaction: 'consumer', destination, queue, logger });
  await waitFor(() => consumer.stats().acked === 1, 20_000);
  await consumer.stop();
  await running;
  assert.equal([await effects(id), await recorded(id)], [1, 1]);
});

test.run();

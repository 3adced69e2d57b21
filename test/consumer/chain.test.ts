/**
 * Chaining (src/consumer/chain.ts): with a message waiting for a slot, a `(payload, { tx })` transaction's
 * COMMIT carries that message's BEGIN and inbox claim, and its connection goes on to it. The rules stay
 * each message's own: a COMMIT that fails NACKs its message and gives the waiting one back to be handled
 * as usual; a waiting message that is a duplicate of one still being handled is recorded once, and the
 * message whose COMMIT carried its claim is acked.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConsumerStats, Handler, HandlerContext, Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  captureLogger, cleanupQueues, declareQueues, dop, drainDeadLetters, nodePostgres, publish, publisher, sleep, startConsumer, testConfig,
} from './helpers/env.js';

let t: TestDatabase;
let db: Awaited<ReturnType<typeof nodePostgres>>;
let pub: StompSession;
const queue = uniqueName('chain');
const destination = `/topic/${queue}`;
/** COMMITs sent with the next transaction's start, counted on every node-postgres client of this process. */
let chainedCommits = 0;

test.before(async () => {
  t = await createTestDatabase();
  await t.sql`create table parents (id int primary key)`;
  await t.sql`insert into parents values (1)`;
  // Checked at COMMIT: a handler's transaction that breaks it fails there.
  await t.sql`create table effects (message_id text not null, parent int not null references parents (id) deferrable initially deferred)`;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = (args[0] as { text?: unknown })?.text;
    if (typeof text === 'string' && text.startsWith('commit; begin;')) chainedCommits++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  db = await nodePostgres(t.url);
  pub = await publisher(testConfig(t.url));
  await declareQueues(testConfig(t.url), destination, queue);
});
test.after(async () => {
  await pub?.disconnect();
  await db?.close();
  cleanupQueues(queue);
  await t?.drop();
});

const effects = async (ids: string[]): Promise<number[]> => {
  const rows = await t.sql`select message_id, count(*)::int as n from effects group by message_id`;
  const n = new Map(rows.map((r) => [r.message_id as string, r.n as number]));
  return ids.map((id) => n.get(id) ?? 0);
};

/** Publishes `ids` (in order), runs a consumer until `done`, stops it. */
async function consume(handler: Handler, ids: string[], done: (s: ConsumerStats) => boolean, concurrency: number) {
  for (const id of ids) await publish(pub, destination, { id }, dop(id));
  const logger = captureLogger();
  const config = testConfig(t.url, { concurrency, prefetchCount: 8 });
  const { consumer, running } = startConsumer({ db: db.db, config, handler, destination, queue, logger });
  await waitFor(() => done(consumer.stats()), 20_000);
  await consumer.stop();
  await running;
  return { stats: consumer.stats(), logger };
}

test('a COMMIT that fails NACKs its own message; the one whose start it carried is handled as usual, and the rest go on', async () => {
  const ids = Array.from({ length: 12 }, () => randomUUID());
  const broken = ids[4]!;
  const order: string[] = [];
  chainedCommits = 0;
  const r = await consume(async (p: Payload, { tx }: HandlerContext) => {
    order.push(p.messageId);
    await tx.execute(sql`insert into effects values (${p.messageId}, ${p.messageId === broken ? 2 : 1})`);
  }, ids, (s) => s.acked + s.failed === ids.length, 1);
  assert.equal([r.stats.acked, r.stats.failed, r.stats.invalid], [11, 1, 0], JSON.stringify(r.stats));
  assert.ok(chainedCommits >= 5, `COMMITs carried the next message's start (${chainedCommits})`);
  assert.equal(order, ids, 'one at a time, in arrival order, each handled once');
  assert.equal(await effects(ids), ids.map((id) => (id === broken ? 0 : 1)));
  assert.ok(r.logger.said(new RegExp(`transaction of message ${broken} could not commit`)).length === 1);
  assert.equal((await drainDeadLetters(testConfig(t.url), queue, 1)).map((d) => d.id), [broken]);
});

test('a waiting duplicate of a message still being handled: the COMMIT that carried its claim is answered without waiting for that handler, and the duplicate is recorded once', async () => {
  const [slow, other] = [randomUUID(), randomUUID()];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started = 0;
  chainedCommits = 0;
  const handler = async (p: Payload, { tx }: HandlerContext) => {
    await tx.execute(sql`insert into effects values (${p.messageId}, 1)`);
    // Holds the inbox row of `slow` uncommitted until `other` is acked.
    if (p.messageId === slow && started++ === 0) await gate;
    // By then the duplicate has arrived, and waits for a slot.
    if (p.messageId === other) await sleep(500);
  };
  // slow (held), other (the second slot), then slow again: it waits for a slot behind `other`.
  for (const id of [slow, other, slow]) await publish(pub, destination, { id }, dop(id));
  const logger = captureLogger();
  const config = testConfig(t.url, { concurrency: 2, prefetchCount: 8 });
  const { consumer, running } = startConsumer({ db: db.db, config, handler, destination, queue, logger });
  try {
    // The duplicate's claim waits on `slow`'s row. Were the COMMIT's answer to wait with it, `other` would be
    // acked only once the consumer's 15 s deadline on its own statements closed the connection.
    await waitFor(() => consumer.stats().acked === 1, 10_000);
    assert.ok(chainedCommits >= 1, 'the COMMIT carried the duplicate’s claim');
    release();
    await waitFor(() => consumer.stats().recorded === 1 && consumer.stats().acked === 2, 20_000);
  } finally {
    release();
    await consumer.stop();
    await running;
  }
  const stats = consumer.stats();
  assert.equal([stats.acked, stats.recorded, stats.failed, stats.invalid], [2, 1, 0, 0], JSON.stringify(stats));
  assert.equal(await effects([slow, other]), [1, 1], 'each effect once');
  assert.is(started, 1, 'the duplicate’s handler never ran');
  assert.equal(logger.said(/no answer to its COMMIT/), [], 'no connection was closed for it');
});

test.run();

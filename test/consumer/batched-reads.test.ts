/**
 * The consumer's inbox reads go many messages to a statement (inbox-lookup.ts). What must not change with
 * that: a message is acked only when its own row committed — never because a batch it shared answered —
 * an id already recorded is acked without running its handler, and a statement that fails for one id's
 * sake, or takes too long, fails only that id, or fails as an outage and lets the next batch through.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyDbFailure } from '../../src/consumer/db-failure.js';
import { createInboxLookup } from '../../src/consumer/inbox-lookup.js';
import { inboxStatements } from '../../src/consumer/sql.js';
import type { Payload } from '../../src/consumer/types.js';
import { createOutboxTables } from '../../src/db/tables.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  cleanupQueues, createEffects, declareQueues, dop, drainDeadLetters, nodePostgres, publish, publisher, queueCounts, startConsumer, testConfig,
} from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queue = uniqueName('batched');
const destination = `/topic/${queue}`;

// Statements sent by node-postgres clients in this process: one round trip each.
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(queue);
  await t?.drop();
});

test('concurrency 16: rolled-back saves are dead-lettered, never acked with their batch; recorded ids skip the handler', async () => {
  const config = testConfig(t.url, { concurrency: 16, prefetchCount: 32 });
  await declareQueues(config, destination, queue);
  const ids: string[] = Array.from({ length: 240 }, () => randomUUID());
  // Every sixth message saves and then rolls its own transaction back, swallowing the error: its save()
  // ran an insert that never committed, in batches beside messages whose rows did.
  const rolledBack = new Set(ids.filter((_, i) => i % 6 === 5));
  // Every eighth was recorded before it arrives (a resend, without the broker's redelivered flag).
  const known = new Set(ids.filter((_, i) => i % 8 === 3 && !rolledBack.has(ids[i]!)));
  for (const id of known) {
    await t.sql`insert into outbox_received (message_id, queue, destination, body, headers) values (${id}, ${queue}, ${destination}, '{}', '{}')`;
  }
  await Promise.all(ids.map((id) => publish(pub, destination, { id }, dop(id))));
  await waitFor(() => queueCounts(queue)?.messages === ids.length, 20_000);

  const { db, close } = await nodePostgres(t.url);
  const called = new Set<string>();
  const handler = async (p: Payload<{ id: string }>) => {
    called.add(p.messageId);
    try {
      await db.transaction(async (tx) => {
        await tx.execute(sql`insert into effects (message_id) values (${p.messageId})`);
        await p.save(tx);
        if (rolledBack.has(p.messageId)) throw new Error('rolled back after save()');
      });
    } catch {
      // Swallowed: the consumer must find out from the database that nothing committed.
    }
  };
  const before = statements;
  const { consumer, running } = startConsumer({ db, config, handler, destination, queue });
  const settled = () => {
    const s = consumer.stats();
    return s.acked + s.recorded + s.duplicate + s.unsettled + s.failed + s.nacked + s.invalid;
  };
  try {
    await waitFor(() => settled() === ids.length, 60_000);
  } finally {
    await consumer.stop();
    await running;
    await close();
  }
  const perMessage = (statements - before) / ids.length;
  const s = consumer.stats();
  const fresh = ids.length - known.size;
  assert.equal(
    [s.acked, s.unsettled, s.recorded, s.duplicate + s.failed + s.nacked + s.invalid],
    [fresh - rolledBack.size, rolledBack.size, known.size, 0],
    JSON.stringify(s),
  );
  assert.ok([...known].every((id) => !called.has(id)), 'no handler ran for an id already recorded');
  const dead = await drainDeadLetters(config, queue, rolledBack.size);
  assert.equal(new Set(dead.map((d) => d.id)), rolledBack, 'exactly the rolled-back messages are dead-lettered');
  const effects = (await t.sql`select message_id from effects`).map((r) => r.message_id as string);
  assert.is(effects.length, fresh - rolledBack.size, 'one effect per acked message, none for the rest');
  // BEGIN, two inserts and COMMIT (or ROLLBACK) per handler; one lookup and one commit check each would be
  // six statements per message.
  assert.ok(perMessage < 5.5, `the reads shared statements: ${perMessage.toFixed(2)} statements per message`);
});

test('a statement that fails for one id answers the others; one past its deadline fails as an outage, and the next goes through', async () => {
  const inbox = inboxStatements(t.db, createOutboxTables(), 'lookup');
  await t.sql`insert into outbox_received (message_id, queue, destination, body, headers) values ('seen', 'lookup', '/topic/x', '{}', '{}')`;
  let calls = 0;
  const lookup = createInboxLookup({ queue: 'lookup', deadlineMs: 500, find: (ids) => (calls++, inbox.findReceived(ids)) });
  // PostgreSQL cannot take a NUL in text: the batch fails with 22021, then each id is asked alone.
  const [seen, unseen, bad] = await Promise.allSettled([lookup.committed('seen'), lookup.recorded('unseen'), lookup.recorded('bad\u0000id')]);
  assert.equal([seen, unseen], [{ status: 'fulfilled', value: true }, { status: 'fulfilled', value: false }]);
  assert.is(bad.status, 'rejected');
  assert.is(classifyDbFailure((bad as PromiseRejectedResult).reason), 'message');
  assert.is(calls, 4, 'one statement for the three, then one per id');

  // A lock held elsewhere keeps the statement waiting past its deadline.
  const locked = t.sql.begin(async (tx) => {
    await tx`lock table outbox_received in access exclusive mode`;
    await new Promise((r) => setTimeout(r, 1500));
  });
  await new Promise((r) => setTimeout(r, 100));
  const late = await lookup.recorded('seen').then(() => 'answered', (e: unknown) => classifyDbFailure(e));
  assert.is(late, 'outage');
  await locked;
  assert.is(await lookup.recorded('seen'), true, 'the next batch is not held up by the one that timed out');
});

test.run();

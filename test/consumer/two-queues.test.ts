/**
 * One service, one database, two consumers of the same event: queues `<x>-email` and `<x>-stats`, both
 * bound to `/topic/<x>`. Each handler runs once per message (the inbox's dedup scope is the queue); a
 * redelivery on either queue is still recognised. Before the scope, whichever consumer came second acked
 * the message as `recorded` without running its handler: a silently lost event.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
const topic = uniqueName('two-queues');
const destination = `/topic/${topic}`;
const email = `${topic}-email`;
const stats = `${topic}-stats`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
});
test.after(async () => {
  cleanupQueues(email, stats);
  await t?.drop();
});

/** A handler that writes its effect (tagged by queue) and saves, in one transaction. */
const handlerFor = (queue: string) => async (p: Payload) => {
  await t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify({ queue })}::jsonb)`);
    await p.save(tx);
  });
};

test('two queues bound to one topic, one database: both handlers run once per message; redeliveries are recorded', async () => {
  const config = testConfig(t.url, { concurrency: 4, prefetchCount: 8 });
  await declareQueues(config, destination, email);
  await declareQueues(config, destination, stats);
  const pub = await publisher(config);
  const ids = Array.from({ length: 50 }, () => randomUUID());
  // The last one twice: a resend must still be absorbed per queue.
  const sends = [...ids, ids.at(-1)!];
  for (const [i, id] of sends.entries()) await publish(pub, destination, { i }, dop(id));
  await pub.disconnect();

  const a = startConsumer({ db: t.db, config, handler: handlerFor(email), destination, queue: email });
  const b = startConsumer({ db: t.db, config, handler: handlerFor(stats), destination, queue: stats });
  const settled = (s: ReturnType<typeof a.consumer.stats>) => s.acked + s.recorded + s.duplicate;
  try {
    await waitFor(() => settled(a.consumer.stats()) === sends.length && settled(b.consumer.stats()) === sends.length, 30_000);
  } finally {
    await Promise.all([a.consumer.stop(), b.consumer.stop()]);
    await Promise.all([a.running, b.running]);
  }

  for (const [queue, { consumer }] of [[email, a], [stats, b]] as const) {
    const s = consumer.stats();
    assert.is(s.acked, ids.length, `${queue}: its handler ran for every message (${JSON.stringify(s)})`);
    assert.is(s.recorded + s.duplicate, 1, `${queue}: the resend was absorbed`);
    assert.is(s.nacked + s.failed + s.unsettled + s.timeout + s.abandoned, 0);
    const [{ n, d }] = (await t.sql`select count(*)::int as n, count(distinct message_id)::int as d from effects where body->>'queue' = ${queue}`) as unknown as [{ n: number; d: number }];
    assert.equal([n, d], [ids.length, ids.length], `${queue}: one effect per message`);
    assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
    assert.equal(queueCounts(`DLQ.${queue}`), { messages: 0, unacked: 0 });
  }
  const inbox = await t.sql`select queue, count(*)::int as n from outbox_received group by queue order by queue`;
  assert.equal(inbox.map((r) => [r.queue, r.n]), [[email, ids.length], [stats, ids.length]], 'one inbox row per message and queue');
});

test.run();

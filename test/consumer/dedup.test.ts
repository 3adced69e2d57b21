/**
 * 1,000 messages, 10% of them repeating the previous message's dop-msg-id, consumed 8 at a time so the
 * duplicates are in flight together: each id takes effect exactly once and every message is acked.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import type { Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, sleep, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
let config: ResolvedConfig;
let pub: StompSession;
const queue = uniqueName('dedup');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  config = testConfig(t.url);
  pub = await publisher(config);
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(queue);
  await t?.drop();
});


test('1,000 messages with 10% adjacent duplicate ids: one effect per id, all acked, queue empty', async () => {
  const c = testConfig(t.url, { concurrency: 8, prefetchCount: 16 });
  await declareQueues(c, destination, queue);
  const ids: string[] = [];
  for (let i = 0; i < 1000; i++) {
    // Every tenth message repeats the one before it: with 8 in flight, the two usually run together.
    ids.push(i % 10 === 9 ? ids[i - 1]! : randomUUID());
  }
  await Promise.all(ids.map((id, i) => publish(pub, destination, { i, id }, dop(id))));
  await waitFor(() => queueCounts(queue)?.messages === 1000, 30_000);

  let concurrentPeak = 0;
  let inHandler = 0;
  const handler = async (p: Payload<{ i: number; id: string }>) => {
    inHandler++;
    concurrentPeak = Math.max(concurrentPeak, inHandler);
    try {
      await t.db.transaction(async (tx) => {
        await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify(p.body)}::jsonb)`);
        // A little time inside the transaction so concurrent duplicates overlap on the unique index.
        await sleep(Math.random() * 3);
        await p.save(tx);
      });
    } finally {
      inHandler--;
    }
  };
  const { consumer, running } = startConsumer({ db: t.db, config: c, handler, destination, queue });
  await waitFor(() => {
    const s = consumer.stats();
    return s.acked + s.duplicate + s.recorded === 1000;
  }, 60_000);
  await consumer.stop();
  await running;

  const s = consumer.stats();
  const [{ rows, distinct }] = (await t.sql`select count(*)::int as rows, count(distinct message_id)::int as distinct from effects`) as unknown as [{ rows: number; distinct: number }];
  assert.is(distinct, 900);
  assert.is(rows, 900, 'no id took effect twice');
  const [{ n }] = (await t.sql`select count(*)::int as n from outbox_received`) as unknown as [{ n: number }];
  assert.is(n, 900);
  assert.is(s.acked, 900);
  assert.is(s.duplicate + s.recorded, 100);
  assert.ok(s.duplicate > 0, `some duplicates were in flight together (duplicate ${s.duplicate}, recorded ${s.recorded})`);
  assert.is(s.nacked + s.failed + s.unsettled + s.timeout, 0);
  assert.ok(concurrentPeak > 1, 'handlers ran concurrently');
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
  assert.equal(queueCounts(`DLQ.${queue}`), { messages: 0, unacked: 0 });
});

test.run();

/**
 * `outbox dlq` on ActiveMQ (src/admin/dlq.ts through the broker table): a consumer's NACK sends the message to
 * `DLQ.<its queue>`, where `<its queue>` is the virtual topic's consumer queue the consumer logs
 * (`Consumer.<queue>.<topic>`); peek shows it with ActiveMQ's reason and leaves it, replay puts it back in
 * the consumer's queue (where the consumer handles it again), purge drops it.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { peekDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter } from '../../src/admin/dlq.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { Payload } from '../../src/index.js';
import { ACTIVEMQ_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startConsumer } from '../consumer/helpers/env.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t?.drop();
});

test('ActiveMQ: NACK → DLQ.Consumer.<queue>.<topic>; peek leaves it, replay brings it back to the consumer, purge drops it', async () => {
  const config = resolveConfig(
    { database: { url: t.url }, broker: { hosts: [{ host: '127.0.0.1', port: ACTIVEMQ_PORT }], heartbeat: [0, 0], maxBackoff: 1 } },
    {},
  );
  const topic = uniqueName('dlq-amq-orders');
  const queue = uniqueName('dlq-amq');
  const brokerQueue = `Consumer.${queue}.${topic}`;
  const seen: string[] = [];
  let accept = false;
  const { consumer, running } = startConsumer({
    db: t.db,
    config,
    destination: `/topic/${topic}`,
    queue,
    async handler(p: Payload<{ n: number }>) {
      seen.push(p.messageId);
      if (!accept) return p.nack();
      await t.db.transaction((tx) => p.save(tx));
    },
  });
  try {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    // The consumer is subscribed once its queue takes messages: probe with the first send until it is seen.
    const producer = await connect({ broker: config.broker, logger: silentLogger });
    const send = (id: string, n: number) =>
      producer.send(`/topic/${topic}`, JSON.stringify({ n }), { headers: { persistent: 'true', 'content-type': 'application/json', 'dop-msg-id': id } });
    await waitFor(async () => {
      if (!seen.includes(ids[0]!)) await send(ids[0]!, 0);
      return seen.includes(ids[0]!);
    }, 20_000, 300);
    await send(ids[1]!, 1);
    await send(ids[2]!, 2);
    await waitFor(() => ids.every((id) => seen.includes(id)), 20_000);
    await producer.disconnect();

    const dead = await waitFor(async () => {
      const found = await peekDeadLetters(config, brokerQueue, { limit: 50, quietMs: 300 });
      return ids.every((id) => found.some((d) => d.id === id)) && found;
    }, 20_000, 200);
    const first = (dead as DeadLetter[]).find((d) => d.id === ids[0])!;
    assert.is(first.body, '{"n":0}');
    assert.is(first.reason?.queue, brokerQueue, "ActiveMQ's original-destination says where it was NACKed");
    assert.not.ok('original-destination' in first.headers, 'what the broker added is not part of the message');

    accept = true;
    const replayed = await replayDeadLetters(config, brokerQueue, { ids: [ids[1]!], quietMs: 300 });
    assert.is(replayed.moved, 1);
    await waitFor(async () => (await t.sql`select 1 from outbox_received where message_id = ${ids[1]!}`).length === 1, 20_000);

    const purged = await purgeDeadLetters(config, brokerQueue, { quietMs: 300 });
    assert.ok(purged.moved >= 2, `purged ${purged.moved}`);
    assert.equal(await peekDeadLetters(config, brokerQueue, { quietMs: 300 }), [], 'the DLQ is empty');
  } finally {
    await consumer.stop();
    await running;
  }
});

test.run();

/**
 * Heart-beats against the real RabbitMQ while a handler is busy: a handler that awaits longer than the
 * heart-beat period must not cost the consumer its connection (the beats go on beside it).
 */
// @serial: 1 s heart-beats are a timing measurement: a neighbour loading the CPU or the broker delays them.
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, createEffects, dop, publish, publisher, queueCounts, sleep, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queues: string[] = [];

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(...queues);
  await t?.drop();
});

const effect = (p: Payload<any>) =>
  t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify(p.body)}::jsonb)`);
    await p.save(tx);
  });

test('a handler awaiting longer than the heart-beat period does not cost the connection', async () => {
  const warnings: string[] = [];
  const config = testConfig(t.url, {}, [1000, 1000]); // heart-beats of 1 s each way; the handler awaits 3.5 s
  const queue = uniqueName('outcomes-hb');
  queues.push(queue);
  const destination = `/topic/${queue}`;
  const { consumer, running } = startConsumer({
    db: t.db,
    config,
    destination,
    queue,
    handler: async (p) => {
      await sleep(3500);
      await effect(p);
    },
    logger: { debug() {}, info() {}, error() {}, warn: (...a: unknown[]) => void warnings.push(a.join(' ')) },
  });
  await waitFor(() => queueCounts(queue) !== undefined, 30_000);
  await publish(pub, destination, {}, dop());
  await waitFor(() => consumer.stats().acked === 1, 15_000);
  await consumer.stop();
  await running;
  assert.equal(warnings, []);
  assert.is(consumer.stats().abandoned, 0);
});

test.run();

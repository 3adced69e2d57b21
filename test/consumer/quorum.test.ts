/**
 * Quorum queues — RabbitMQ's replicated queues since mirrored classic queues went — end to end:
 * consumer.queueHeaders { 'x-queue-type': 'quorum' } declares the queue and its DLQ as quorum queues, a NACK
 * (requeue:false) dead-letters into the DLQ, a message the consumer could not settle before its connection
 * was closed comes back with `x-delivery-count` and is handled once, and the settings RabbitMQ refuses for a
 * quorum queue are E_CONFIG at start-up instead of a PRECONDITION_FAILED at every reconnect.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { isOutboxError } from '../../src/errors.js';
import { rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createVhost } from '../stomp/support.js';
import { captureLogger, createEffects, declareQueues, dop, drainDeadLetters, nodePostgres, publish, publisher, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
let pg: Awaited<ReturnType<typeof nodePostgres>>;
// A vhost of its own: closing its connections touches no other test's.
const vhost = createVhost('consumer-quorum');

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pg = await nodePostgres(t.url);
});
test.after(async () => {
  await pg?.close();
  vhost.drop();
  await t?.drop();
});

/** name → { type, messages } of the queues in the test's vhost. */
function queues(): Record<string, { type: string; messages: number }> {
  const out: Record<string, { type: string; messages: number }> = {};
  for (const line of rabbitmqctl('list_queues', '-p', vhost.vhost, 'name', 'type', 'messages', '--no-table-headers').split('\n')) {
    const [name, type, messages] = line.trim().split(/\s+/);
    if (name) out[name] = { type: type!, messages: Number(messages) };
  }
  return out;
}

test('quorum queue and DLQ; NACK dead-letters; a redelivery carries x-delivery-count and is handled once', async () => {
  const queue = uniqueName('quorum');
  const destination = `/topic/${queue}`;
  const config = testConfig(t.url, { queueHeaders: { 'x-queue-type': 'quorum' }, prefetchCount: 2 });
  config.broker.vhost = vhost.vhost;
  await declareQueues(config, destination, queue);
  assert.equal([queues()[queue]?.type, queues()[`DLQ.${queue}`]?.type], ['quorum', 'quorum']);

  const [held, rejected, plain] = [randomUUID(), randomUUID(), randomUUID()];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const seen: Array<Record<string, string>> = [];
  const handler = async (p: Payload<{ kind: string }>, { tx }: HandlerContext) => {
    seen.push({ ...p.headers });
    if (p.body.kind === 'nack') return p.nack();
    if (p.body.kind === 'hold' && !p.redelivered) {
      await gate; // until its connection is gone: it can no longer be settled, the broker delivers it again
      throw new Error('given up with the connection');
    }
    await tx.execute(sql`insert into effects (message_id) values (${p.messageId})`);
  };
  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db: pg.db, config, handler, destination, queue, logger });
  try {
    const first = await publisher(config);
    await publish(first, destination, { kind: 'hold' }, dop(held));
    await first.disconnect();
    await waitFor(() => seen.length === 1, 10_000);
    await vhost.closeConnections('test: quorum redelivery');
    await waitFor(() => logger.said(/consuming .* from queue/).length === 2, 10_000);
    open();
    const pub = await publisher(config);
    await publish(pub, destination, { kind: 'nack' }, dop(rejected));
    await publish(pub, destination, { kind: 'ok' }, dop(plain));
    await pub.disconnect();
    await waitFor(() => consumer.stats().acked === 2 && consumer.stats().nacked === 1, 15_000);
  } finally {
    open();
    await consumer.stop();
    await running;
  }
  const again = seen.filter((h) => h['dop-msg-id'] === held);
  assert.is(again.length, 2, 'the held message came twice');
  assert.equal([again[1]!.redelivered, again[1]!['x-delivery-count']], ['true', '1'], JSON.stringify(again[1]));
  assert.is(consumer.stats().abandoned, 1);
  const effects = await t.sql`select message_id, count(*)::int as n from effects group by message_id order by message_id`;
  assert.equal(effects.map((e) => [e.message_id, e.n]), [[held, 1], [plain, 1]].sort());
  const dead = await drainDeadLetters(config, queue, 1);
  assert.equal(dead.map((d) => d.id), [rejected], 'dead-lettered into the quorum DLQ');
  // A quorum queue's count follows its acks by a moment.
  await waitFor(() => queues()[queue]?.messages === 0, 10_000, 200);
});

test('what RabbitMQ refuses for a quorum queue is E_CONFIG before anything connects', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ exclusive: true }, /consumer\.exclusive true/],
    [{ queueHeaders: { 'x-queue-type': 'quorum', durable: 'false' } }, /durable: false/],
    [{ queueHeaders: { 'x-queue-type': 'Quorum', 'auto-delete': true } }, /auto-delete: true/],
  ];
  for (const [consumer, message] of cases) {
    const settings = { queueHeaders: { 'x-queue-type': 'quorum' }, ...consumer };
    try {
      resolveConfig({ consumer: settings as never }, {});
      assert.unreachable(JSON.stringify(settings));
    } catch (error) {
      assert.ok(isOutboxError(error, 'E_CONFIG'), String(error));
      assert.match((error as Error).message, message);
    }
  }
  assert.ok(resolveConfig({ consumer: { queueHeaders: { 'x-queue-type': 'quorum' }, exclusive: false } }, {}));
});

test.run();

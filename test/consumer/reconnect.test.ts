/**
 * The broker blinks while messages are being consumed — `rabbitmqctl close_all_connections`, then a full
 * `stop_app`/`start_app`: the consumer reconnects, subscribes again with the same id, and every message
 * takes effect exactly once.
 */
// @serial: closes every connection on the broker and stops RabbitMQ (stop_app), under every other file's feet.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import { closeAllConnections, rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, sleep, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
const queue = uniqueName('reconnect');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
});
test.after(async () => {
  cleanupQueues(queue);
  await t?.drop();
});

const effects = async () => (await t.sql`select count(*)::int as n from effects`)[0]!.n as number;

test('close_all_connections and a broker restart mid-stream: it resumes, nothing lost, nothing twice', async () => {
  const config = testConfig(t.url, { prefetchCount: 8, concurrency: 4 });
  await declareQueues(config, destination, queue);
  const pub = await publisher(config);
  const ids = Array.from({ length: 600 }, () => randomUUID());
  await Promise.all(ids.map((id, i) => publish(pub, destination, { i }, dop(id))));
  await pub.disconnect();

  const subscriptions = new Set<string>();
  const handler = async (p: Payload) => {
    subscriptions.add(p.headers.subscription ?? '');
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`insert into effects (message_id) values (${p.messageId})`);
      await sleep(5); // slow enough that the blinks land mid-stream
      await p.save(tx);
    });
  };
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (...a: unknown[]) => void warnings.push(a.join(' ')) };
  const { consumer, running } = startConsumer({ db: t.db, config, handler, destination, queue, logger });
  try {
    await waitFor(async () => (await effects()) >= 100, 20_000);
    closeAllConnections('test: blink');
    await waitFor(async () => (await effects()) >= 250, 20_000);
    rabbitmqctl('stop_app');
    await sleep(500);
  } finally {
    rabbitmqctl('start_app');
  }
  await waitFor(() => consumer.stats().acked + consumer.stats().duplicate + consumer.stats().recorded >= 600 && queueCounts(queue)?.messages === 0, 60_000, 200);
  await consumer.stop();
  await running;

  const rows = await t.sql`select count(*)::int as n, count(distinct message_id)::int as d from effects`;
  assert.equal([rows[0]!.n, rows[0]!.d], [600, 600]);
  const s = consumer.stats();
  // An ACK lost with its connection comes back as a redelivery that the inbox recognises.
  assert.ok(s.acked + s.recorded + s.duplicate >= 600, JSON.stringify(s));
  assert.is(s.nacked + s.failed + s.unsettled, 0);
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
  assert.equal([...subscriptions], [consumer.subscriptionId], 'every connection subscribed with the same id');
  const lost = warnings.filter((w) => w.includes('lost the broker connection')).length;
  assert.ok(lost >= 2, `both blinks hit the consumer mid-stream (${lost} losses)`);
});

test('a subscription the broker refuses (PRECONDITION_FAILED) is retried with backoff, not in a hot loop', async () => {
  const refused = uniqueName('refused');
  const config = testConfig(t.url);
  try {
    // The queue exists with other arguments than the consumer's: every SUBSCRIBE ends its connection.
    const s = await publisher(config);
    s.subscribe(`/topic/${refused}`, { durable: 'true', 'auto-delete': 'false', 'x-queue-name': refused, 'x-max-length': '10' }, () => {});
    await s.disconnect();
    let subscribes = 0;
    config.broker.onFrame = (direction, command, headers) => {
      if (direction === 'out' && command === 'SUBSCRIBE' && headers.destination === `/topic/${refused}`) subscribes++;
    };
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (...a: unknown[]) => void warnings.push(a.join(' ')) };
    const { consumer, running } = startConsumer({ db: t.db, config, handler: () => {}, destination: `/topic/${refused}`, queue: refused, logger });
    await waitFor(() => warnings.some((w) => /subscribing again in/.test(w)), 10_000);
    await sleep(2000);
    await consumer.stop();
    await running;
    assert.ok(subscribes >= 2 && subscribes <= 4, `${subscribes} SUBSCRIBEs in ~2 s`);
  } finally {
    cleanupQueues(refused);
  }
});

test.run();

/**
 * Several consumer processes on one queue keep a key's order only if one of them consumes at a time:
 * RabbitMQ's single active consumer. Its STOMP plugin drops `x-single-active-consumer` from SUBSCRIBE headers
 * (checked here), so the queue is declared with it on the broker side and consumed as `/amq/queue/<name>`,
 * which subscribes without declaring (README "Ordering", consumer recipe). Two consumers: the first gets
 * everything while it runs, the standby nothing; when the first stops, the standby takes over, in order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, dop, publish, publisher, sleep, startConsumer, testConfig } from '../consumer/helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queue = uniqueName('ordering-sac');
const dropped = uniqueName('ordering-sac-header');

test.before(async () => {
  t = await createTestDatabase();
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(queue, dropped);
  await t?.drop();
});

const queueArguments = (name: string) => rabbitmqctl('list_queues', 'name', 'arguments').split('\n').find((l) => l.startsWith(`${name}\t`));

test('x-single-active-consumer as a SUBSCRIBE header (consumer.queueHeaders) does not reach the queue', async () => {
  const { consumer, running } = startConsumer({
    db: t.db,
    config: testConfig(t.url, { queueHeaders: { 'x-single-active-consumer': 'true' } }),
    handler: () => {},
    destination: `/topic/${dropped}`,
    queue: dropped,
  });
  try {
    await waitFor(() => queueArguments(dropped) !== undefined, 10_000);
    assert.not.match(queueArguments(dropped)!, 'single-active');
  } finally {
    await consumer.stop();
    await running;
  }
});

test('declared with x-single-active-consumer and consumed as /amq/queue/<name>: one active consumer, the standby takes over in order', async () => {
  // What `rabbitmqadmin declare queue … arguments='{"x-single-active-consumer":true}'` does (no management plugin here).
  rabbitmqctl('eval', `rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"${queue}">>), true, false, [{<<"x-single-active-consumer">>, bool, true}], none, <<"guest">>).`);
  assert.match(queueArguments(queue)!, 'x-single-active-consumer');
  const destination = `/amq/queue/${queue}`;
  const seen: Array<{ by: string; key: string; seq: number }> = [];
  const handler = (by: string) => async (p: Payload<any>) => {
    seen.push({ by, key: p.headers['outbox-key']!, seq: Number(p.headers['outbox-key-seq']) });
    await sleep(Math.random() * 3);
    await t.db.transaction((tx) => p.save(tx));
  };
  const config = testConfig(t.url, { concurrency: 4, prefetchCount: 4 });
  const a = startConsumer({ db: t.db, config, handler: handler('a'), destination, queue });
  await sleep(500);
  const b = startConsumer({ db: t.db, config, handler: handler('b'), destination, queue });
  await sleep(500);
  const send = async (from: number, to: number) => {
    for (let seq = from; seq <= to; seq++) for (const key of ['k1', 'k2']) await publish(pub, destination, { key, seq }, dop(undefined, { 'outbox-key': key, 'outbox-key-seq': String(seq) }));
  };
  try {
    await send(1, 20);
    await waitFor(() => seen.length === 40, 15_000);
    assert.equal([...new Set(seen.map((s) => s.by))], ['a'], 'only the first consumer is active');
    await a.consumer.stop();
    await a.running;
    await send(21, 40);
    await waitFor(() => seen.length === 80, 15_000);
    assert.equal([...new Set(seen.slice(40).map((s) => s.by))], ['b'], 'the standby took over');
    for (const key of ['k1', 'k2']) {
      assert.equal(seen.filter((s) => s.key === key).map((s) => s.seq), Array.from({ length: 40 }, (_, i) => i + 1), `key ${key} in order across the takeover`);
    }
  } finally {
    for (const c of [a, b]) {
      await c.consumer.stop();
      await c.running;
    }
  }
});

test.run();

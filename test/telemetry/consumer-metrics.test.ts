/**
 * The consumer's metrics on /metrics (the probe server as `outbox consume --metrics` runs it): N messages,
 * some whose handler throws, one delivered twice — counted by outcome, their durations in the histogram,
 * nothing left in flight. Default consumer settings.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import { startProbeServer, type ProbeServer } from '../../src/telemetry/server.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, declareQueues, dop, publish, publisher, startConsumer, testConfig } from '../consumer/helpers/env.js';
import { metricValue } from './support.js';

let t: TestDatabase;
let server: ProbeServer;
const queue = uniqueName('metrics-consume');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  // Before the consumer is made: its instruments must find the MeterProvider.
  server = await startProbeServer({ listen: '127.0.0.1:0', live: () => true, database: async () => null });
});
test.after(async () => {
  await server?.close();
  cleanupQueues(queue);
  await t?.drop();
});

const scrape = async () => (await fetch(`http://${server.address}/metrics`)).text();

test('outcomes counted by queue and outcome; handler durations; in-flight back to 0', async () => {
  const config = testConfig(t.url);
  await declareQueues(config, destination, queue);
  const N = 20;
  const failing = 5;
  const { consumer, running } = startConsumer({
    db: t.db,
    config,
    destination,
    queue,
    handler: async (p: Payload<{ n: number }>) => {
      if (p.body.n < failing) throw new Error(`refusing message ${p.body.n}`);
      await t.db.transaction((tx) => p.save(tx));
    },
  });
  try {
    const s = await publisher(config);
    const repeated = randomUUID();
    for (let n = 0; n < N; n++) await publish(s, destination, { n }, dop(n === N - 1 ? repeated : undefined));
    await waitFor(() => consumer.stats().acked === N - failing, 20_000, 50);
    // The same dop-msg-id again: already in the inbox, acked without running the handler.
    await publish(s, destination, { n: N }, dop(repeated));
    await s.disconnect();
    await waitFor(() => consumer.stats().recorded === 1, 20_000, 50);
    // Read while it runs: a stopped consumer's in-flight series is gone.
    await waitFor(async () => metricValue(await scrape(), 'outbox_consumer_in_flight', { queue }) === 0, 5_000, 50);
    assert.is(metricValue(await scrape(), 'outbox_consumer_hung', { queue }), 0);
  } finally {
    await consumer.stop();
    await running;
  }
  const text = await scrape();
  const messages = (outcome: string) => metricValue(text, 'outbox_consumer_messages_total', { queue, outcome });
  assert.is(messages('acked'), N - failing, text);
  assert.is(messages('failed'), failing);
  assert.is(messages('recorded'), 1);
  assert.is(metricValue(text, 'outbox_consumer_handler_duration_count', { queue }), N + 1);
});

test.run();

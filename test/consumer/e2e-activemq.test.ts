/**
 * End to end on ActiveMQ Classic, through the built CLI: insertOrderWithOutbox → `outbox relay` → ActiveMQ →
 * `outbox consume` → the handler's business effect, once per order. The broker is recognised from its
 * CONNECTED frame (nothing in the config says ActiveMQ): the relay sends to `/topic/orders-billing` as the
 * row says, and the consumer's durable queue is the virtual topic's `Consumer.<queue>.orders-billing`
 * (README "Brokers"). A second copy of a message, as a relay that crashed between the broker's receipt
 * and its mark would send, is absorbed by the inbox.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { withCorrelationId } from '../../src/publish/correlation.js';
import { connect } from '../../src/stomp/connect.js';
import { insertOrderWithOutbox } from '../fixtures/shop/golden/index.js';
import { ACTIVEMQ_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import type { TestDatabase } from '../helpers/db.js';
import { CONFIG, runCli, type Child } from './helpers/cli.js';
import { createShopDatabase } from './helpers/env.js';

let t: TestDatabase;
const children: Child[] = [];
const queue = uniqueName('e2e-amq-billing');
const BROKER_URL = `stomp://guest:guest@127.0.0.1:${ACTIVEMQ_PORT}`;

test.before(async () => {
  t = await createShopDatabase();
});
test.after(async () => {
  for (const c of children) c.process.kill('SIGKILL');
  await t?.drop();
});

function cli(args: string[], env: Record<string, string> = {}): Child {
  const child = runCli([...args, '--config', CONFIG], { DATABASE_URL: t.url, OUTBOX_BROKER_URL: BROKER_URL, ...env });
  children.push(child);
  return child;
}

const count = async (query: Promise<Array<{ n: number }>>): Promise<number> => (await query)[0]!.n;

test('ActiveMQ: insertOrderWithOutbox → outbox relay → outbox consume, one shipment per order, a resent copy absorbed', async () => {
  const followUp = `/topic/${uniqueName('e2e-amq-shipped')}`;
  const consumer = cli(['consume', 'test/consumer/fixtures/e2e-handler.ts', '/topic/orders-billing', queue], { E2E_FOLLOW_UP: followUp });
  // Subscribed: ActiveMQ now copies what is sent to the topic into the consumer's queue.
  await waitFor(() => new RegExp(`from queue Consumer\\.${queue}\\.orders-billing on ActiveMQ`).test(consumer.output()), 20_000);

  const correlation = `req-${randomUUID()}`;
  const order = (total: string) => withCorrelationId(correlation, () => t.db.transaction((tx) => insertOrderWithOutbox(tx, { total, status: 'paid' })));
  const first = await order('10.50');
  await order('0.99');
  const relay = cli(['relay']);
  const shipments = () => count(t.sql`select count(*)::int as n from shipments`);
  await waitFor(async () => (await shipments()) >= 2, 20_000);

  // The first billing event again, byte for byte as the relay sent it (its row holds the headers sent).
  const [row] = await t.sql`select body::text as body, headers from outbox_published where destination = '/topic/orders-billing' order by seq limit 1`;
  const broker = resolveConfig({ broker: { hosts: [{ host: '127.0.0.1', port: ACTIVEMQ_PORT }], heartbeat: [0, 0] } }, {}).broker;
  const session = await connect({ broker, logger: silentLogger });
  assert.is(session.flavor, 'activemq', "recognised from CONNECTED's server header");
  await session.send('/topic/orders-billing', row!.body as string, { headers: { ...(row!.headers as Record<string, string>), persistent: 'true' } });
  await session.disconnect();
  // A later order: one consumer, one message at a time, so its shipment means the copy was handled first.
  await order('3.00');
  await waitFor(async () => (await shipments()) >= 3, 20_000);
  await waitFor(async () => (await count(t.sql`select count(*)::int as n from outbox_published where status <> 'sent'`)) === 0, 20_000);

  consumer.process.kill('SIGTERM');
  relay.process.kill('SIGTERM');
  assert.is(await consumer.exited, 0, consumer.output());
  assert.is(await relay.exited, 0, relay.output());
  assert.match(consumer.output(), /stopped \(.*recorded 1\b/, 'the copy was recognised as already recorded, and acked');

  const rows = await t.sql`select order_id, cents, correlation_id, message_id from shipments order by order_id`;
  assert.is(rows.length, 3, 'one shipment per order: the copy took no effect');
  assert.is(rows[0]!.order_id, first!.id);
  assert.equal(rows.map((s) => s.correlation_id), [correlation, correlation, correlation]);
  const billing = await t.sql`select id::text from outbox_published where destination = '/topic/orders-billing' order by seq`;
  assert.equal(rows.map((s) => s.message_id), billing.map((b) => b.id), "the inbox key is the outbox row's dop-msg-id");
});

test.run();

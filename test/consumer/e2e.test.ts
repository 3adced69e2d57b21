/**
 * End to end through the built CLI: insertOrderWithOutbox (generated helper) in a request's correlation id
 * → `outbox relay` → RabbitMQ → `outbox consume` → the handler's business effect, exactly once, with the
 * correlation id carried from the producer into the handler and on into the events the handler writes.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withCorrelationId } from '../../src/publish/correlation.js';
import { insertOrderWithOutbox } from '../fixtures/shop/golden/index.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import type { TestDatabase } from '../helpers/db.js';
import { CONFIG, runCli, type Child } from './helpers/cli.js';
import { cleanupQueues, createShopDatabase, queueCounts } from './helpers/env.js';

let t: TestDatabase;
const children: Child[] = [];
const queue = uniqueName('e2e-billing');

test.before(async () => {
  t = await createShopDatabase();
});
test.after(async () => {
  for (const c of children) c.process.kill('SIGKILL');
  cleanupQueues(queue);
  await t?.drop();
});

function cli(args: string[], env: Record<string, string> = {}): Child {
  const child = runCli([...args, '--config', CONFIG], { DATABASE_URL: t.url, ...env });
  children.push(child);
  return child;
}

test('insertOrderWithOutbox → outbox relay → outbox consume: one shipment per order, correlation id carried', async () => {
  const followUp = `/topic/${uniqueName('e2e-shipped')}`;
  // The consumer first: it declares the queue and binds it to the billing routing key.
  const consumer = cli(['consume', 'test/consumer/fixtures/e2e-handler.ts', '/topic/orders-billing', queue], { E2E_FOLLOW_UP: followUp });
  await waitFor(() => queueCounts(queue) !== undefined, 15_000);

  const correlation = `req-${randomUUID()}`;
  const orders = await withCorrelationId(correlation, () =>
    t.db.transaction((tx) =>
      insertOrderWithOutbox(tx, [
        { total: '10.50', status: 'paid' },
        { total: '0.99', status: 'paid' },
      ]),
    ),
  );
  const relay = cli(['relay']);

  await waitFor(async () => (await t.sql`select count(*)::int as n from shipments`)[0]!.n >= 2, 20_000);
  // The follow-up events the handler wrote are relayed too; wait for them, then stop both.
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where status <> 'sent'`)[0]!.n === 0, 20_000);
  consumer.process.kill('SIGTERM');
  relay.process.kill('SIGTERM');
  assert.is(await consumer.exited, 0, consumer.output());
  assert.is(await relay.exited, 0, relay.output());

  const shipments = await t.sql`select order_id, cents, correlation_id, message_id from shipments order by order_id`;
  assert.equal(
    shipments.map((s) => [s.order_id, s.cents, s.correlation_id]),
    orders.map((o) => [o.id, Math.round(Number(o.total) * 100), correlation]),
  );
  const billing = await t.sql`select id::text, headers from outbox_published where destination = '/topic/orders-billing' order by seq`;
  assert.equal(shipments.map((s) => s.message_id), billing.map((b) => b.id), "the inbox key is the outbox row's dop-msg-id");
  const follow = await t.sql`select headers->>'dop-correlation-id' as c from outbox_published where destination = ${followUp}`;
  assert.equal(follow.map((f) => f.c), [correlation, correlation], "the handler's own events carry the correlation id on");
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
});

test.run();

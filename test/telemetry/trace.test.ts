/**
 * One trace from the transaction that wrote an event to the handler that consumed it and on through the
 * event that handler wrote (README "Telemetry"):
 *
 *   checkout (the application's span, active around its transaction)
 *   ├── send /topic/<a>     PRODUCER, relay; linked to checkout
 *   └── process /topic/<a>  CONSUMER, child of the stored traceparent (checkout), not of the relay's span
 *       └── send /topic/<b> PRODUCER, relay; the handler's event, linked to the process span
 *
 * Real PostgreSQL and RabbitMQ, an SDK with the in-memory exporter, default settings.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { createConsumer } from '../../src/consumer/consumer.js';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { publish } from '../../src/publish/publish.js';
import { createRelay } from '../../src/relay/relay.js';
import { deleteQueue, queueDepth, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { installTracing } from './sdk.js';

let t: TestDatabase;
const tracing = installTracing();
const queue = uniqueName('trace-in');
const first = `/topic/${uniqueName('trace-a')}`;
const second = `/topic/${uniqueName('trace-b')}`;

test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(queue);
  await tracing.uninstall();
  await t?.drop();
});

test('a write outside any span stores no traceparent', async () => {
  const id = await t.db.transaction((tx) => publish(tx, { destination: `/topic/${uniqueName('untraced')}`, body: {} }));
  const [row] = await t.sql`select headers from outbox_published where id = ${id}`;
  assert.not.ok('traceparent' in row!.headers);
  await t.sql`delete from outbox_published where id = ${id}`;
});

test('transaction in a span → relay → consumer → handler writes an event → relay: one trace, parents and links as documented', async () => {
  const config = resolveConfig({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] } }, {});
  const consumer = createConsumer({
    db: t.db,
    config,
    destination: first,
    queue,
    logger: silentLogger,
    handler: async (_payload: Payload, { tx }: HandlerContext) => {
      await publish(tx, { destination: second, body: { followUp: true } });
    },
  });
  const consuming = consumer.run();
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const relaying = relay.run();
  try {
    // The consumer declares and binds its queue: an event written before would be routed nowhere.
    await waitFor(() => queueDepth(queue) !== undefined, 15_000, 200);
    const tracer = trace.getTracer('shop');
    let written = '';
    const checkout = await tracer.startActiveSpan('checkout', async (span) => {
      written = await t.db.transaction((tx) => publish(tx, { destination: first, body: { order: 1 } }));
      span.end();
      return span.spanContext();
    });
    const [row] = await t.sql`select headers from outbox_published where id = ${written}`;
    assert.is(row!.headers.traceparent, `00-${checkout.traceId}-${checkout.spanId}-01`, 'the stored traceparent is the active span');

    await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where destination = ${second} and status = 'sent'`)[0]!.n === 1, 20_000, 100);
  } finally {
    await relay.stop();
    await consumer.stop();
    await relaying;
    await consuming;
  }
  const spans = tracing.exporter.getFinishedSpans();
  const named = (name: string) => spans.filter((s) => s.name === name);
  const [checkout] = named('checkout');
  const [sendFirst] = named(`send ${first}`);
  const [process] = named(`process ${first}`);
  const [sendSecond] = named(`send ${second}`);
  assert.ok(checkout && sendFirst && process && sendSecond, `spans: ${spans.map((s) => s.name).join(', ')}`);
  const traceId = checkout!.spanContext().traceId;
  for (const s of [sendFirst!, process!, sendSecond!]) assert.is(s.spanContext().traceId, traceId, `${s.name} is in the checkout's trace`);

  assert.is(sendFirst!.kind, SpanKind.PRODUCER);
  assert.is(sendFirst!.parentSpanContext?.spanId, checkout!.spanContext().spanId, 'the relay sends as a child of the creating context');
  assert.equal(sendFirst!.links.map((l) => l.context.spanId), [checkout!.spanContext().spanId], 'and links to it');
  assert.is(sendFirst!.attributes['messaging.system'], 'rabbitmq');
  assert.is(sendFirst!.attributes['messaging.destination.name'], first);
  assert.ok(typeof sendFirst!.attributes['messaging.message.id'] === 'string');
  assert.ok(Number(sendFirst!.attributes['messaging.batch.message_count']) >= 1);

  assert.is(process!.kind, SpanKind.CONSUMER);
  assert.is(process!.parentSpanContext?.spanId, checkout!.spanContext().spanId, "the consumer's parent is the writing transaction's span, not the relay");
  assert.is(process!.attributes['messaging.message.id'], sendFirst!.attributes['messaging.message.id']);
  assert.is(process!.attributes['outbox.outcome'], 'acked');

  assert.is(sendSecond!.kind, SpanKind.PRODUCER);
  assert.is(sendSecond!.parentSpanContext?.spanId, process!.spanContext().spanId, "the handler's event continues from its CONSUMER span");
  assert.equal(sendSecond!.links.map((l) => l.context.spanId), [process!.spanContext().spanId]);
});

test.run();

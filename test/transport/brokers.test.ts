// @offline: no database, no broker
/** The broker table (src/transport/brokers.ts): recognition, and what each entry makes of a consumer. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { isOutboxError } from '../../src/errors.js';
import { activemq, brokerTraits, rabbitmq, recogniseBroker } from '../../src/transport/brokers.js';

const consumer = resolveConfig({ consumer: { prefetchCount: 7, exclusive: true, queueHeaders: { 'x-max-length': '10', 'activemq.priority': '5', durable: 'True' } } }, {}).consumer;

test("recognised from CONNECTED's server header; broker.flavor wins; anything else is RabbitMQ", () => {
  assert.is(recogniseBroker('ActiveMQ/5.17.2'), 'activemq');
  assert.is(recogniseBroker('RabbitMQ/3.10.8'), 'rabbitmq');
  assert.is(recogniseBroker(undefined), 'rabbitmq');
  assert.is(recogniseBroker('ActiveMQ/5.17.2', 'rabbitmq'), 'rabbitmq');
  assert.is(recogniseBroker('some-proxy', 'activemq'), 'activemq');
  assert.is(brokerTraits(undefined), rabbitmq, 'a transport that does not say (the memory one) is taken for RabbitMQ');
});

test('broker.flavor is checked with the config', () => {
  assert.is(resolveConfig({ broker: { flavor: 'activemq' } }, {}).broker.flavor, 'activemq');
  assert.is(resolveConfig({}, {}).broker.flavor, undefined, 'unset: each connection says');
  try {
    resolveConfig({ broker: { flavor: 'artemis' as never } }, {});
    assert.unreachable();
  } catch (e) {
    assert.ok(isOutboxError(e, 'E_CONFIG'));
    assert.match((e as Error).message, /broker\.flavor must be 'rabbitmq' or 'activemq'/);
  }
});

test("RabbitMQ: the consumer's queue is declared by its SUBSCRIBE with django-outbox-pattern's headers, and its DLQ beforehand", () => {
  const t = rabbitmq.consume('/topic/orders', 'billing', consumer);
  assert.is(t.destination, '/topic/orders');
  assert.is(t.queue, 'billing');
  assert.is(t.deadLetterQueue, 'DLQ.billing');
  assert.is(t.headers['x-queue-name'], 'billing');
  assert.is(t.headers['prefetch-count'], '7');
  assert.is(t.headers['x-dead-letter-routing-key'], 'DLQ.billing');
  assert.is(t.headers.durable, 'true');
  assert.is(t.declareDeadLetter?.destination, '/queue/DLQ.billing');
  assert.equal(rabbitmq.deadLetterNack, { requeue: 'false' });
});

test("ActiveMQ: a topic is consumed from its virtual topic's consumer queue, with ActiveMQ's headers only", () => {
  const t = activemq.consume('/topic/orders.v1', 'billing', consumer);
  assert.is(t.destination, '/queue/Consumer.billing.orders.v1');
  assert.is(t.queue, 'Consumer.billing.orders.v1');
  assert.is(t.deadLetterQueue, 'DLQ.Consumer.billing.orders.v1');
  assert.equal(t.headers, { 'activemq.priority': '5', 'activemq.prefetchSize': '7', 'activemq.exclusive': 'true', ack: 'client-individual' });
  assert.is(t.declareDeadLetter, undefined, 'ActiveMQ creates the DLQ at the first dead letter');
  assert.is(activemq.consume('/topic/orders', 'orders.v1', consumer).queue, 'Consumer.orders-v1.orders', 'one word after Consumer.');
  assert.is(activemq.consume('/queue/jobs', 'ignored', consumer).destination, '/queue/jobs');
  assert.throws(() => activemq.consume('/exchange/audit/key', 'audit', consumer), (e: unknown) => isOutboxError(e, 'E_CONFIG'));
  assert.equal(activemq.deadLetterNack, {});
  assert.is(activemq.existingQueue('DLQ.x'), '/queue/DLQ.x');
  assert.is(rabbitmq.existingQueue('DLQ.x'), '/amq/queue/DLQ.x');
});

test("ActiveMQ's record of a dead letter", () => {
  assert.equal(activemq.deathReason({ 'original-destination': '/queue/Consumer.billing.orders' }), {
    reason: 'dead-lettered',
    queue: 'Consumer.billing.orders',
    text: 'NACKed (or redelivered too often) by a consumer of Consumer.billing.orders',
  });
  assert.is(activemq.deathReason({}), null);
});

test.run();

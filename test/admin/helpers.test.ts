/**
 * The pure parts of the operator's commands: which headers a replayed dead letter keeps, how RabbitMQ's topic
 * bindings match a routing key (outbox doctor), and how the CLI reads --since, --limit and --id.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { replayHeaders } from '../../src/admin/dlq.js';
import { topicMatches } from '../../src/admin/management.js';
import { isRefusal } from '../../src/admin/status.js';
import { positiveInteger, rowIds, since } from '../../src/cli/options.js';
import { resolveConfig } from '../../src/config/resolve.js';

const config = resolveConfig({ consumer: { queueHeaders: { 'x-queue-type': 'quorum' } } }, {});

test('a replayed dead letter keeps its own headers, and only those', () => {
  const delivered = {
    // The broker's, per delivery.
    subscription: 's1', destination: '/queue/DLQ.orders', 'message-id': 'T_s1@@1', redelivered: 'true', ack: 'T_s1@@1', 'content-length': '7',
    receipt: 'r9',
    // RabbitMQ's record of the dead-lettering.
    'x-first-death-reason': 'rejected', 'x-first-death-queue': 'orders', 'x-first-death-exchange': 'amq.topic',
    // Queue arguments a subscription had copied onto the message.
    'x-queue-name': 'orders', 'x-dead-letter-routing-key': 'DLQ.orders', 'x-queue-type': 'quorum',
    // The message's own.
    'dop-msg-id': 'a1', 'dop-correlation-id': 'c1', 'x-reason': 'fraud', 'content-type': 'application/json', persistent: 'true',
    // Named like a queue argument, with a value of its own: kept.
    'x-queue-name-note': 'x', durable: 'sometimes',
  };
  assert.equal(replayHeaders(delivered, config, 'orders'), {
    'dop-msg-id': 'a1', 'dop-correlation-id': 'c1', 'x-reason': 'fraud', 'x-queue-name-note': 'x', durable: 'sometimes',
    'content-type': 'application/json', persistent: 'true',
  });
});

test("topic bindings match as RabbitMQ's do: * one word, # any number", () => {
  const cases: Array<[string, string, boolean]> = [
    ['orders', 'orders', true],
    ['orders', 'orders.v1', false],
    ['orders.*', 'orders.v1', true],
    ['orders.*', 'orders', false],
    ['orders.#', 'orders', true],
    ['orders.#', 'orders.v1.eu', true],
    ['#', 'anything.at.all', true],
    ['*.v1', 'orders-slim.v1', true],
    ['#.v1', 'a.b.v1', true],
    ['#.v1', 'a.b.v2', false],
  ];
  for (const [pattern, key, expected] of cases) assert.is(topicMatches(pattern, key), expected, `${pattern} ~ ${key}`);
});

test('a refusal is the broker refusing the destination, not the connection', () => {
  assert.ok(isRefusal("E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: not_found — NOT_FOUND - no exchange 'x' in vhost '/'"));
  assert.not.ok(isRefusal('E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: connection_closing — CONNECTION_FORCED - broker forced connection closure'));
  assert.not.ok(isRefusal('E_CONNECTION_CLOSED: the connection to 127.0.0.1:61613 was closed by the peer'));
  assert.not.ok(isRefusal(null));
});

test('--since, --limit and --id', () => {
  assert.equal(since('90s'), { seconds: 90 });
  assert.equal(since('30m'), { seconds: 1800 });
  assert.equal(since('1.5d'), { seconds: 129_600 });
  assert.equal(since('2026-11-30T08:00:00Z'), { at: '2026-11-30T08:00:00.000Z' });
  assert.is(since(undefined), undefined);
  assert.throws(() => since('yesterday'), /--since takes a duration/);
  assert.is(positiveInteger('limit', '25'), 25);
  for (const bad of ['0', '-1', '2.5', 'ten', '']) assert.throws(() => positiveInteger('limit', bad), /--limit must be a positive whole number/);
  assert.equal(rowIds(['00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000002']), [
    '00000000-0000-4000-8000-000000000001',
    '00000000-0000-4000-8000-000000000002',
  ]);
  assert.throws(() => rowIds('abc'), /--id takes an outbox row id/);
});

test.run();

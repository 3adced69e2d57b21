import { OutboxError } from '../errors.js';
import type { ResolvedBroker, ResolvedConfig } from './resolved.js';

/** Numbers and durations as the runtime will use them (a zero batch size or timeout would hang or spin). */
export function checkNumbers(c: ResolvedConfig): void {
  const positive: Array<[string, number]> = [
    ['relay.batchSize', c.relay.batchSize],
    ['relay.pollInterval', c.relay.pollInterval],
    ['relay.maxAttempts', c.relay.maxAttempts],
    ['relay.leaseTimeout', c.relay.leaseTimeout],
    ['relay.window', c.relay.window],
    ['relay.retryBackoff.base', c.relay.retryBackoff.base],
    ['relay.retryBackoff.max', c.relay.retryBackoff.max],
    ['consumer.prefetchCount', c.consumer.prefetchCount],
    ['consumer.concurrency', c.consumer.concurrency],
    ['retention.days', c.retention.days],
    ['retention.interval', c.retention.interval],
    ['retention.batchSize', c.retention.batchSize],
    ['broker.maxBackoff', c.broker.maxBackoff],
    ['broker.connectTimeout', c.broker.connectTimeout],
    ['broker.receiptTimeout', c.broker.receiptTimeout],
  ];
  for (const [key, value] of positive) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) mustBe(key, 'a positive number', value);
  }
}

/** The broker settings that reach the socket and the CONNECT frame. */
export function checkBroker(broker: ResolvedBroker): void {
  for (const [i, h] of broker.heartbeat.entries()) {
    if (!Number.isInteger(h) || h < 0) mustBe(`broker.heartbeat[${i}]`, 'a whole number of ms ≥ 0', h);
  }
  if (broker.hosts.some((h) => !h.host || !Number.isInteger(h.port) || h.port <= 0 || h.port > 65535)) badHosts();
}

/** The file's and OUTBOX_BROKER_URL's hosts are held to one rule, with one message. */
export function badHosts(): never {
  throw new OutboxError('E_CONFIG', 'broker.hosts must be a list of { host, port } with a port from 1 to 65535');
}

function mustBe(path: string, what: string, value: unknown): never {
  throw new OutboxError('E_CONFIG', `${path} must be ${what}, got ${String(value)}`);
}

/**
 * The values of the settings as the runtime will use them: after defaults and the environment apply. Each
 * check is here because the mistake would otherwise surface late and far away — a zero batch size spins,
 * a negative timeout fires at once, a non-string passcode goes out as "[object Object]" in CONNECT.
 */
import { OutboxError } from '../errors.js';
import { describe } from './problem.js';
import type { ResolvedBroker, ResolvedConfig } from './resolved.js';
import type { BrokerTls } from './types.js';

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
    ['database.maxBackoff', c.database.maxBackoff],
    ['broker.connectTimeout', c.broker.connectTimeout],
    ['broker.receiptTimeout', c.broker.receiptTimeout],
  ];
  for (const [key, value] of positive) {
    if (!isNumber(value) || value <= 0) mustBe(key, 'a positive number', value);
  }
  // 0 is meaningful for these: drain nothing, print no progress, wait for no handler.
  const orZero: Array<[string, number | null, string]> = [
    ['relay.shutdownTimeout', c.relay.shutdownTimeout, 'a number ≥ 0'],
    ['relay.progressInterval', c.relay.progressInterval, 'a number ≥ 0 (0: no progress lines)'],
  ];
  if (c.consumer.shutdownTimeout !== null) {
    orZero.push(['consumer.shutdownTimeout', c.consumer.shutdownTimeout, 'a number ≥ 0 or null (wait for ever)']);
  }
  for (const [key, value, what] of orZero) {
    if (!isNumber(value) || value < 0) mustBe(key, what, value);
  }
  const { handlerTimeout } = c.consumer;
  if (handlerTimeout !== null && (!isNumber(handlerTimeout) || handlerTimeout <= 0)) {
    mustBe('consumer.handlerTimeout', 'a positive number or null (no limit)', handlerTimeout);
  }
}

/** The consumer settings that are not numbers. */
export function checkConsumer(c: ResolvedConfig): void {
  if (typeof c.consumer.exclusive !== 'boolean') {
    throw new OutboxError('E_CONFIG', `consumer.exclusive must be true or false, got ${describe(c.consumer.exclusive)}`);
  }
}

/** Where the database is: a URL (file or DATABASE_URL) or, without one, a PGlite directory. */
export function checkDatabase(c: ResolvedConfig): void {
  const { database } = c;
  if ('url' in database) {
    if (typeof database.url !== 'string') throw new OutboxError('E_CONFIG', `database.url must be a postgres:// URL, got ${describe(database.url)}`);
  } else if (typeof database.pglite !== 'string' || database.pglite.trim() === '') {
    throw new OutboxError('E_CONFIG', `database.pglite must be a non-empty directory path, got ${describe(database.pglite)}`);
  }
}

/** The broker settings that reach the socket and the CONNECT frame. */
export function checkBroker(broker: ResolvedBroker): void {
  if (!Array.isArray(broker.heartbeat) || broker.heartbeat.length !== 2) {
    throw new OutboxError('E_CONFIG', `broker.heartbeat must be [outgoingMs, incomingMs], got ${describe(broker.heartbeat)}`);
  }
  for (const [i, h] of broker.heartbeat.entries()) {
    if (!Number.isInteger(h) || h < 0) mustBe(`broker.heartbeat[${i}]`, 'a whole number of ms ≥ 0', h);
  }
  if (!Array.isArray(broker.hosts)) badHosts();
  for (const h of broker.hosts as unknown[]) {
    const { host, port } = (h ?? {}) as Partial<ResolvedBroker['hosts'][number]>;
    if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || port! <= 0 || port! > 65535) badHosts();
  }
  for (const key of ['vhost', 'login', 'passcode'] as const) {
    // Never the value itself: a wrong-typed passcode may still be a secret.
    if (typeof broker[key] !== 'string') throw new OutboxError('E_CONFIG', `broker.${key} must be a string, got ${describe(broker[key])}`);
  }
  if (broker.onFrame !== undefined && typeof broker.onFrame !== 'function') {
    throw new OutboxError('E_CONFIG', `broker.onFrame must be a function (direction, command, headers) => void, got ${describe(broker.onFrame)}`);
  }
  if (broker.flavor !== undefined && broker.flavor !== 'rabbitmq' && broker.flavor !== 'activemq') {
    throw new OutboxError('E_CONFIG', `broker.flavor must be 'rabbitmq' or 'activemq', got ${describe(broker.flavor)}`);
  }
  if (broker.tls) checkTls(broker.tls);
}

/** The file's and OUTBOX_BROKER_URL's hosts are held to one rule, with one message. */
export function badHosts(): never {
  throw new OutboxError('E_CONFIG', 'broker.hosts must be a list of { host, port } with a port from 1 to 65535');
}

const PEM = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v);
const TLS_CHECKS: Record<keyof BrokerTls, [(v: unknown) => boolean, string]> = {
  ca: [(v) => PEM(v) || (Array.isArray(v) && v.every(PEM)), 'a PEM string or Buffer, or a list of them'],
  cert: [PEM, 'a PEM string or Buffer'],
  key: [PEM, 'a PEM string or Buffer'],
  passphrase: [(v) => typeof v === 'string', 'a string'],
  servername: [(v) => typeof v === 'string', 'a string'],
  minVersion: [(v) => typeof v === 'string' && /^TLSv1(\.[123])?$/.test(v), "'TLSv1.2' or 'TLSv1.3' (or 'TLSv1', 'TLSv1.1')"],
  checkServerIdentity: [(v) => typeof v === 'function', 'a function (hostname, cert) => Error | undefined'],
  rejectUnauthorized: [(v) => typeof v === 'boolean', 'true or false'],
};

/** The TLS options' types; Node would otherwise throw them at the first handshake, on every reconnect. */
function checkTls(tls: object): void {
  for (const [key, value] of Object.entries(tls)) {
    const check = TLS_CHECKS[key as keyof BrokerTls];
    if (value === undefined || !check || check[0](value)) continue;
    throw new OutboxError('E_CONFIG', `broker.tls.${key} must be ${check[1]}, got ${describe(value)}`);
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function mustBe(path: string, what: string, value: unknown): never {
  throw new OutboxError('E_CONFIG', `${path} must be ${what}, got ${String(value)}`);
}

/** Shared set-up for the consumer tests: config, a publisher, queue inspection, a business table. */
import { randomUUID } from 'node:crypto';
import { resolveConfig, type ResolvedConfig } from '../../../src/config/resolve.js';
import type { ConsumerConfig } from '../../../src/config/types.js';
import { createConsumer } from '../../../src/consumer/consumer.js';
import { deadLetterHeaders, subscribeHeaders } from '../../../src/consumer/subscription.js';
import type { ConsumerOptions, Consumer } from '../../../src/consumer/types.js';
import { openDatabase } from '../../../src/db/open.js';
import type { OutboxDb } from '../../../src/db/types.js';
import { silentLogger, type Logger } from '../../../src/log/logger.js';
import { connect } from '../../../src/stomp/connect.js';
import type { StompSession } from '../../../src/stomp/types.js';
import { deleteQueue, rabbitmqctl, STOMP_HOST, STOMP_PORT } from '../../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { schemaSql } from '../../fixtures/shop/schema.js';

/** Heart-beats of 2 s: short enough to matter in a test, long enough for a busy machine. */
export function testConfig(url: string, consumer: Partial<ConsumerConfig> = {}, heartbeat: [number, number] = [2000, 2000]): ResolvedConfig {
  return resolveConfig(
    {
      database: { url },
      broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }], maxBackoff: 1, heartbeat },
      consumer,
    },
    {},
  );
}

/** A publishing connection without heart-beats: a test's own publisher must not be what a busy machine breaks. */
export const publisher = (config: ResolvedConfig): Promise<StompSession> =>
  connect({ broker: { ...config.broker, heartbeat: [0, 0] }, logger: silentLogger });

/** Sends JSON (or a raw string) with the given headers; resolves on the broker's receipt. */
export function publish(session: StompSession, destination: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return session.send(destination, text, { headers: { persistent: 'true', 'content-type': 'application/json', ...headers } });
}

/** A dop-msg-id header set, as the relay (and django-outbox-pattern) sends. */
export const dop = (id: string = randomUUID(), extra: Record<string, string> = {}): Record<string, string> => ({
  'dop-msg-id': id,
  'dop-msg-type': 'Published',
  'dop-correlation-id': randomUUID(),
  ...extra,
});

/**
 * Declares the consumer's queue (bound to `destination`) and its DLQ with exactly the consumer's headers,
 * so messages can be published before any consumer runs.
 */
export async function declareQueues(config: ResolvedConfig, destination: string, queue: string): Promise<void> {
  const s = await publisher(config);
  s.subscribe(destination, subscribeHeaders(config.consumer, queue), () => {}, 'declare-main');
  s.subscribe(`/queue/DLQ.${queue}`, deadLetterHeaders(config.consumer, queue), () => {}, 'declare-dlq');
  await s.disconnect();
  const reason = await s.closed;
  if (reason) throw reason;
}

/** `messages` (ready + unacked) and `unacked` of a queue, exact; undefined if it does not exist. */
export function queueCounts(queue: string): { messages: number; unacked: number } | undefined {
  const out = rabbitmqctl('list_queues', 'name', 'messages', 'messages_unacknowledged', '--no-table-headers');
  for (const line of out.split('\n')) {
    const [name, messages, unacked] = line.trim().split(/\s+/);
    if (name === queue) return { messages: Number(messages), unacked: Number(unacked) };
  }
  return undefined;
}

/** Reads (and acks) everything in `DLQ.<queue>`, returning the messages' dop-msg-ids and bodies. */
export async function drainDeadLetters(config: ResolvedConfig, queue: string, expected: number): Promise<Array<{ id: string; body: string }>> {
  const s = await publisher(config);
  const got: Array<{ id: string; body: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`DLQ.${queue}: got ${got.length} of ${expected}`)), 10_000);
    s.subscribe(`/queue/DLQ.${queue}`, { ...deadLetterHeaders(config.consumer, queue), 'prefetch-count': '100' }, (m) => {
      got.push({ id: m.headers['dop-msg-id'] ?? m.headers['message-id'] ?? '', body: m.body.toString('utf8') });
      s.ack(m);
      if (got.length >= expected) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await s.disconnect();
  return got;
}

export function cleanupQueues(...queues: string[]): void {
  for (const q of queues) {
    deleteQueue(q);
    deleteQueue(`DLQ.${q}`);
  }
}

/** A table without a unique key: a handler's effect that happened twice shows as two rows. */
export async function createEffects(t: TestDatabase): Promise<void> {
  await t.sql`create table effects (message_id text not null, body jsonb, correlation_id text, at timestamptz not null default now())`;
}

/** Starts a consumer in the background; `stop()` drains it. */
export function startConsumer<T>(options: Omit<ConsumerOptions<T>, 'logger'> & { logger?: ConsumerOptions['logger'] }): {
  consumer: Consumer;
  running: Promise<void>;
} {
  const consumer = createConsumer({ logger: silentLogger, ...options });
  const running = consumer.run();
  return { consumer, running };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps every line (level and text), for tests that read what the consumer said. */
export function captureLogger(echo = !!process.env.ECHO): Logger & { lines: Array<{ level: string; text: string }>; said(pattern: RegExp): string[] } {
  const lines: Array<{ level: string; text: string }> = [];
  const log = (level: string) => (...args: unknown[]) => {
    const text = args.filter((a) => !(a instanceof Error)).map(String).join(' ');
    lines.push({ level, text });
    if (echo) console.log(`${process.env.ECHO === 'time' ? `${new Date().toISOString().slice(11, 23)} ` : ''}[${level}] ${text}`);
  };
  return {
    lines,
    debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'),
    said: (pattern) => lines.filter((l) => pattern.test(l.text)).map((l) => l.text),
  };
}

/**
 * The database as `outbox consume` opens it from a postgres:// URL: node-postgres, with the error listeners
 * that let it live through PostgreSQL restarts.
 */
export async function nodePostgres(url: string): Promise<{ db: OutboxDb; close(): Promise<void> }> {
  const opened = await openDatabase(testConfig(url), { poolSize: 10, connectTimeout: 10 });
  return { db: opened.db, close: () => opened.close() };
}

/**
 * A database with the shop fixture's tables (its outbox and orders) and the business table its end-to-end
 * handlers write (`shipments`, fixtures/e2e-handler.ts).
 */
export async function createShopDatabase(): Promise<TestDatabase> {
  const t = await createTestDatabase();
  await t.sql.unsafe(schemaSql);
  await t.sql`create table shipments (order_id int not null, cents int not null, correlation_id text, message_id text not null)`;
  return t;
}

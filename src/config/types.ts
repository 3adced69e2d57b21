import type { InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { ConnectionOptions } from 'node:tls';

/**
 * What `outbox.config.ts` exports (through `defineConfig`). Every key is optional except where the
 * command needs it; defaults live in one table, `src/config/defaults.ts`, and are documented there.
 * Durations are in **seconds** (fractions allowed), as the original library's settings were, except
 * `broker.heartbeat`, which is in milliseconds like STOMP's own `heart-beat` header.
 */
export interface OutboxConfig<M extends ModelsConfig = ModelsConfig> {
  /** Directory `outbox generate` writes to. */
  out?: string;
  /** Table names of the library's own tables. */
  tables?: Partial<TableNames>;
  /** Per model key, the Drizzle table and where its rows are published. */
  models?: M;
  /** Extra headers for every outbox row (the original's DEFAULT_GENERATE_HEADERS). */
  headers?: (row: OutboxRowDraft) => Record<string, string>;
  broker?: BrokerConfig;
  database?: DatabaseConfig;
  relay?: Partial<RelayConfig>;
  consumer?: Partial<ConsumerConfig>;
  retention?: Partial<RetentionConfig>;
}

export type ModelsConfig = Record<string, ModelConfig<any>>;

export interface ModelConfig<T extends PgTable = PgTable> {
  /** A Drizzle table (`pgTable(...)`). */
  table: T;
  /** One outbox row per entry, written in this order. */
  publish: readonly PublishConfig<InferSelectModel<T>>[];
}

export interface PublishConfig<Row = Record<string, unknown>> {
  /** STOMP destination, e.g. `/topic/orders` (routing key `orders` on amq.topic). */
  destination: string;
  /** Columns to put in the body (the primary key is always included as `id`). */
  fields?: readonly (keyof Row & string)[];
  /** Builds the body from the row; wins over `fields`. */
  serializer?: (row: Row) => unknown;
  /** Suffix for the destination: `/topic/orders` + `v1` → `/topic/orders.v1`. */
  version?: string;
}

/** What a `headers` hook sees of a row about to be written to the outbox. */
export interface OutboxRowDraft {
  id: string;
  destination: string;
  body: unknown;
}

export interface TableNames {
  /** Outgoing events. */
  published: string;
  /** Ids of messages already handled (the inbox). */
  received: string;
  /** Last run times of throttled maintenance (retention). */
  maintenance: string;
  /**
   * Relays asleep waiting for a NOTIFY; the insert trigger notifies only while one is listed (see
   * README "How relays wake up"). Default: the published table's name + `_idle` (`outbox_published_idle`).
   */
  idle: string;
}

export interface BrokerHost {
  host: string;
  port: number;
}

export interface BrokerConfig {
  /** Tried in order on every (re)connect: failover. */
  hosts?: BrokerHost[];
  /** Sent as the CONNECT `host` header. */
  vhost?: string;
  login?: string;
  passcode?: string;
  /** [outgoing, incoming] heart-beat in ms; 0 disables that direction. */
  heartbeat?: [number, number];
  /** TLS options; `true` for TLS with the system CAs. Verification is on unless you turn it off. */
  tls?: boolean | BrokerTls;
  /** Cap of the reconnect backoff `min(2^n + jitter, maxBackoff)`, seconds. */
  maxBackoff?: number;
  /** How long to wait for CONNECTED, seconds. */
  connectTimeout?: number;
  /** How long a SEND may wait for its RECEIPT, seconds. */
  receiptTimeout?: number;
  /** Observe every frame sent and received (debugging, metrics). */
  onFrame?: (direction: 'in' | 'out', command: string, headers: Record<string, string>) => void;
}

export interface BrokerTls {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  servername?: string;
  minVersion?: ConnectionOptions['minVersion'];
  checkServerIdentity?: ConnectionOptions['checkServerIdentity'];
  /** Only for tests against self-signed brokers. Default true. */
  rejectUnauthorized?: boolean;
}

export interface DatabaseConfig {
  /** postgres:// URL. `DATABASE_URL` wins over it. */
  url?: string;
  /** Directory of the embedded PGlite database, used when there is no URL. */
  pglite?: string;
  /** Cap of the backoff between database retries (claims, marks, inbox lookups), seconds. */
  maxBackoff?: number;
}

export interface RelayConfig {
  /** Rows claimed per batch (the original's DEFAULT_PUBLISHED_CHUNK_SIZE). */
  batchSize: number;
  /** Fallback poll when no NOTIFY arrives, seconds (DEFAULT_PRODUCER_WAITING_TIME). */
  pollInterval: number;
  /** Attempts before a row becomes `failed` (DEFAULT_MAXIMUM_RETRY_ATTEMPTS). */
  maxAttempts: number;
  /** Backoff between attempts of one row: `min(base * 2^(attempts-1), max)` with jitter, seconds. */
  retryBackoff: { base: number; max: number };
  /** A claimed row is reclaimable after this long without a receipt, seconds. */
  leaseTimeout: number;
  /** SENDs awaiting their RECEIPT at once. */
  window: number;
  /** On shutdown, how long to wait for in-flight receipts, seconds. */
  shutdownTimeout: number;
  /** A progress line every this many seconds (0: none). */
  progressInterval: number;
}

export interface ConsumerConfig {
  /** RabbitMQ prefetch-count: unacked messages the broker sends ahead. */
  prefetchCount: number;
  /** Exclusive queue (DEFAULT_EXCLUSIVE_QUEUE). */
  exclusive: boolean;
  /** Extra SUBSCRIBE headers (merged over the defaults, DEFAULT_STOMP_QUEUE_HEADERS). */
  queueHeaders: Record<string, string>;
  /** Handlers running at once (≤ prefetchCount to be useful). */
  concurrency: number;
  /** Wait for in-flight handlers on shutdown, seconds; `null` forever, 0 not at all. */
  shutdownTimeout: number | null;
  /** A handler running longer than this is NACKed, seconds; `null` no limit. */
  handlerTimeout: number | null;
}

export interface RetentionConfig {
  /** Delete `sent` outbox rows and inbox rows older than this many days. */
  days: number;
  /** Run retention at most once per this many seconds (tracked in the database). */
  interval: number;
  /** Rows deleted per statement. */
  batchSize: number;
}

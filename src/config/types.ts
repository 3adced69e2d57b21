import type { InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { ConnectionOptions } from 'node:tls';

/**
 * What `outbox.config.ts` exports (through `defineConfig`). Every key is optional except where the
 * command needs it. The default values live in one table, `src/config/defaults.ts`; each option's
 * `@defaultValue` here repeats it for readers of the types, and test/config-docs.test.ts fails when the
 * two (or the README's tables) disagree. Durations are in **seconds** (fractions allowed), as
 * django-outbox-pattern's settings were, except `broker.heartbeat`, which is in milliseconds like STOMP's
 * own `heart-beat` header.
 */
export interface OutboxConfig<M extends ModelsConfig = ModelsConfig> {
  /**
   * Directory `outbox generate` writes to.
   * @defaultValue `'./outbox'`
   */
  out?: string;
  /** Table names of the library's own tables. */
  tables?: Partial<TableNames>;
  /**
   * Per model key, the Drizzle table and where its rows are published.
   * @defaultValue `{}` (no models: `publish()` only)
   */
  models?: M;
  /**
   * Extra headers for every outbox row (django-outbox-pattern's DEFAULT_GENERATE_HEADERS).
   * @defaultValue none
   */
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
  /**
   * Columns to put in the body (the primary key is always included as `id`).
   * @defaultValue every column
   */
  fields?: readonly (keyof Row & string)[];
  /**
   * Builds the body from the row; wins over `fields`.
   * @defaultValue none
   */
  serializer?: (row: Row) => unknown;
  /**
   * Suffix for the destination: `/topic/orders` + `v1` → `/topic/orders.v1`.
   * @defaultValue none
   */
  version?: string;
  /**
   * Ordering key: a column of the row (its value as a string) or a function of the row. Events of one
   * destination and key are sent, and handled by a consumer, in commit order (README "Ordering").
   * @example `key: 'customerId'` or `key: (o) => String(o.customerId)`
   * @defaultValue none (unordered)
   */
  key?: (keyof Row & string) | ((row: Row) => string);
}

/** What a `headers` hook sees of a row about to be written to the outbox. */
export interface OutboxRowDraft {
  id: string;
  destination: string;
  body: unknown;
}

export interface TableNames {
  /**
   * Outgoing events.
   * @defaultValue `'outbox_published'`
   */
  published: string;
  /**
   * Ids of messages already handled (the inbox).
   * @defaultValue `'outbox_received'`
   */
  received: string;
  /**
   * Last run times of throttled maintenance (retention).
   * @defaultValue `'outbox_maintenance'`
   */
  maintenance: string;
  /**
   * Relays asleep waiting for a NOTIFY; the insert trigger notifies only while one is listed (see
   * README "How relays wake up"). It follows `published`, so two renamed sets never share one.
   * @defaultValue `'outbox_published_idle'`: the published table's name + `_idle`
   */
  idle: string;
  /**
   * The relays running now, one row each: what `outbox status` shows, and how a relay sees that another
   * died (its session's advisory lock is gone) and takes its leased rows over at once. It follows `published`.
   * @defaultValue `'outbox_published_relays'`: the published table's name + `_relays`
   */
  relays: string;
}

export interface BrokerHost {
  host: string;
  port: number;
}

/** `OUTBOX_BROKER_URL` wins over `hosts`, `vhost`, `login`, `passcode` and `tls` (see README "Environment"). */
export interface BrokerConfig {
  /**
   * Tried in order on every (re)connect: failover. An empty list means the default.
   * @defaultValue `[{ host: '127.0.0.1', port: 61613 }]`
   */
  hosts?: BrokerHost[];
  /**
   * Sent as the CONNECT `host` header.
   * @defaultValue `'/'`
   */
  vhost?: string;
  /** @defaultValue `'guest'` */
  login?: string;
  /** @defaultValue `'guest'` */
  passcode?: string;
  /**
   * [outgoing, incoming] heart-beat in ms; 0 disables that direction.
   * @defaultValue `[10000, 10000]`
   */
  heartbeat?: [number, number];
  /**
   * TLS options; `true` for TLS with the system CAs. Verification is on unless you turn it off.
   * @defaultValue `false`
   */
  tls?: boolean | BrokerTls;
  /**
   * Cap of the reconnect backoff `min(2^n + jitter, maxBackoff)`, seconds.
   * @defaultValue `3600`
   */
  maxBackoff?: number;
  /**
   * How long to wait for CONNECTED, seconds.
   * @defaultValue `10`
   */
  connectTimeout?: number;
  /**
   * How long a SEND may wait for its RECEIPT, seconds.
   * @defaultValue `30`
   */
  receiptTimeout?: number;
  /**
   * Observe every frame sent and received (debugging, metrics).
   * @defaultValue none
   */
  onFrame?: (direction: 'in' | 'out', command: string, headers: Record<string, string>) => void;
  /**
   * Which broker this is, where the CONNECTED frame's `server` header does not say it (a proxy in between,
   * a renamed build): what differs between them is in README "Brokers".
   * @defaultValue recognised from the CONNECTED frame's `server` header (`ActiveMQ/…`), else RabbitMQ
   */
  flavor?: BrokerFlavor;
}

/** The STOMP brokers whose differences the library knows (README "Brokers"). */
export type BrokerFlavor = 'rabbitmq' | 'activemq';

/** Passed to Node's `tls.connect`; what is not set keeps Node's own default. */
export interface BrokerTls {
  /**
   * PEM certificate(s) to trust instead of Node's bundled CAs.
   * @defaultValue Node's bundled CAs
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Client certificate (PEM), for brokers that require one.
   * @defaultValue none
   */
  cert?: string | Buffer;
  /**
   * Private key of `cert` (PEM).
   * @defaultValue none
   */
  key?: string | Buffer;
  /** @defaultValue none */
  passphrase?: string;
  /**
   * SNI name, and the name the certificate is checked against.
   * @defaultValue the host's name (no SNI for an IP address)
   */
  servername?: string;
  /** @defaultValue Node's (`'TLSv1.2'`) */
  minVersion?: ConnectionOptions['minVersion'];
  /** @defaultValue Node's `tls.checkServerIdentity` */
  checkServerIdentity?: ConnectionOptions['checkServerIdentity'];
  /**
   * Only for tests against self-signed brokers: `false` accepts any certificate.
   * @defaultValue `true` (applied where the socket is opened, src/stomp/transport.ts)
   */
  rejectUnauthorized?: boolean;
}

export interface DatabaseConfig {
  /**
   * postgres:// URL. `DATABASE_URL` wins over it.
   * @defaultValue none (then `pglite`)
   */
  url?: string;
  /**
   * Directory of the embedded PGlite database, used when there is no URL.
   * @defaultValue `'./.outbox-data'`
   */
  pglite?: string;
  /**
   * Cap of the backoff between database retries (claims, marks, inbox lookups), seconds: an outage of any
   * length is noticed within about this long of its end (sooner when a NOTIFY or the LISTEN connection
   * says the database is back).
   * @defaultValue `30`
   */
  maxBackoff?: number;
}

/** `relay` in the config; every key optional there. */
export interface RelayConfig {
  /**
   * Rows claimed per batch (django-outbox-pattern's DEFAULT_PUBLISHED_CHUNK_SIZE).
   * @defaultValue `200`
   */
  batchSize: number;
  /**
   * Fallback poll when no NOTIFY arrives, seconds (DEFAULT_PRODUCER_WAITING_TIME).
   * @defaultValue `1`
   */
  pollInterval: number;
  /**
   * Attempts before a row becomes `failed` (DEFAULT_MAXIMUM_RETRY_ATTEMPTS).
   * @defaultValue `50`
   */
  maxAttempts: number;
  /**
   * Backoff between attempts of one row: `min(base * 2^(attempts-1), max)` with jitter, seconds.
   * @defaultValue `{ base: 1, max: 300 }`
   */
  retryBackoff: { base: number; max: number };
  /**
   * A claimed row is reclaimable after this long without a receipt, seconds.
   * @defaultValue `30`
   */
  leaseTimeout: number;
  /**
   * SENDs awaiting their RECEIPT at once.
   * @defaultValue `500`
   */
  window: number;
  /**
   * On shutdown, how long to wait for in-flight receipts, seconds.
   * @defaultValue `10`
   */
  shutdownTimeout: number;
  /**
   * A progress line every this many seconds (0: none).
   * @defaultValue `10`
   */
  progressInterval: number;
}

/** `consumer` in the config; every key optional there. */
export interface ConsumerConfig {
  /**
   * RabbitMQ prefetch-count: unacked messages the broker sends ahead.
   * @defaultValue `1`
   */
  prefetchCount: number;
  /**
   * Exclusive queue (DEFAULT_EXCLUSIVE_QUEUE).
   * @defaultValue `false`
   */
  exclusive: boolean;
  /**
   * Extra SUBSCRIBE headers (merged over the defaults, DEFAULT_STOMP_QUEUE_HEADERS).
   * @defaultValue `{}`
   */
  queueHeaders: Record<string, string>;
  /**
   * Handlers running at once (≤ prefetchCount to be useful).
   * @defaultValue `1`
   */
  concurrency: number;
  /**
   * Wait for in-flight handlers on shutdown, seconds; `null` forever, 0 not at all.
   * @defaultValue `90`
   */
  shutdownTimeout: number | null;
  /**
   * A handler running longer than this is NACKed, seconds; `null` no limit.
   * @defaultValue `null`
   */
  handlerTimeout: number | null;
}

/** `retention` in the config; every key optional there. */
export interface RetentionConfig {
  /**
   * Delete `sent` outbox rows and inbox rows older than this many days.
   * @defaultValue `30`
   */
  days: number;
  /**
   * Run retention at most once per this many seconds (tracked in the database).
   * @defaultValue `86400` (one day)
   */
  interval: number;
  /**
   * Rows deleted per statement.
   * @defaultValue `1000`
   */
  batchSize: number;
}

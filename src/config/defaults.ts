import type { ConsumerConfig, ModelsConfig, RelayConfig, RetentionConfig, TableNames } from './types.js';

/**
 * Every default in one place. An explicit config value wins over the environment
 * (`DATABASE_URL`, `OUTBOX_BROKER_URL` — which win over the config file for those two), which wins over these.
 * The `@defaultValue` of each option in types.ts and the README's settings tables repeat these values;
 * test/config-docs.test.ts fails when they disagree, and this file is the one to believe.
 */
export const defaults = {
  out: './outbox',
  // No models: `publish()` alone, or a consumer-only service.
  models: {} satisfies ModelsConfig,
  tables: {
    published: 'outbox_published',
    received: 'outbox_received',
    maintenance: 'outbox_maintenance',
    // Follows `published` when only that is renamed (resolveTables), so two renamed sets never share it.
    idle: 'outbox_published_idle',
    relays: 'outbox_published_relays',
  } satisfies TableNames,
  broker: {
    hosts: [{ host: '127.0.0.1', port: 61613 }],
    vhost: '/',
    login: 'guest',
    passcode: 'guest',
    // django-outbox-pattern's DEFAULT_STOMP_HEARTBEATS.
    heartbeat: [10_000, 10_000] as [number, number],
    // Plain TCP unless asked: TLS needs a broker listener configured for it (RabbitMQ's is on another port).
    tls: false,
    // django-outbox-pattern's DEFAULT_MAXIMUM_BACKOFF: one hour.
    maxBackoff: 3600,
    connectTimeout: 10,
    receiptTimeout: 30,
  },
  database: {
    // Used only when neither DATABASE_URL nor database.url is set.
    pglite: './.outbox-data',
    // Database retries (claims, marks, inbox lookups) back off to at most this, seconds: an outage of any
    // length is noticed within about this long of its end (a NOTIFY or a reconnect cuts it shorter).
    maxBackoff: 30,
  },
  relay: {
    batchSize: 200,
    pollInterval: 1,
    maxAttempts: 50,
    // django-outbox-pattern paused 240 s then retried every 60 s; a capped exponential gets there without
    // hammering a broker that is refusing one destination.
    retryBackoff: { base: 1, max: 300 },
    leaseTimeout: 30,
    window: 500,
    shutdownTimeout: 10,
    progressInterval: 10,
  } satisfies RelayConfig,
  consumer: {
    prefetchCount: 1,
    exclusive: false,
    queueHeaders: {},
    concurrency: 1,
    shutdownTimeout: 90,
    handlerTimeout: null,
  } satisfies ConsumerConfig,
  retention: {
    days: 30,
    interval: 86_400,
    batchSize: 1000,
  } satisfies RetentionConfig,
} as const;

/*
 * Not here, on purpose: the constants that are properties of a mechanism rather than choices a deployment
 * makes. Each was measured or follows from the protocol, lives beside the code it tunes, and says why there:
 *
 * - relay/pace.ts: TICK_MS (5), QUIET_TICKS (3), TRICKLE_RATE (500/s), RATE_WINDOW_MS (20), LISTING_SLACK (5 s),
 *   RETRY_LISTING_MS (60 s) — when a relay asks producers to NOTIFY (src/relay/wake-up.md has the figures);
 *   relay/idle-sql.ts FORGET_AFTER (1 h) — when a dead relay's listing is swept.
 * - transport/link.ts HEALTHY_MS (10 s) — a connection that lived this long ends a reconnect backoff.
 * - relay/breaker.ts minHold (0.5 s), relay/prober.ts IDLE_CLOSE_MS (10 s), relay/gate.ts CHECK_DESTINATION.
 * - relay/failures.ts WRITE_TRIES (5), relay/marker.ts COALESCE_MS (2) — how a relay records what happened.
 * - stomp/: heartbeat SILENCE_MARGIN (2 periods, the protocol's tolerance), writer FLUSH_AT_BYTES (1 MiB),
 *   parser DEFAULT_LIMITS (16 MiB frame, 1000 headers, 64 KiB line), session ERROR_GRACE_MS (500),
 *   connect DEFAULT_WINDOW (500, relay.window's default for other callers).
 * - publish/write.ts ROWS_PER_STATEMENT (5000: PostgreSQL's 65535 parameters ÷ 4 per row, rounded down).
 * - util/: databaseRetry's first delay (0.5 s), outage SUMMARY_EVERY_MS (60 s), db/listen.ts RELISTEN_MS (1 s).
 * - retention/retention.ts: 10 ms between batches and a check every min(interval, 5 min).
 */

/**
 * Table names with defaults; the idle and relays tables follow the published one (`<published>_idle`,
 * `<published>_relays`) unless named, so that two renamed sets in one database never share (or both try
 * to create) them.
 */
export function resolveTables(tables: Partial<TableNames> = {}): TableNames {
  const published = tables.published ?? defaults.tables.published;
  return { ...defaults.tables, ...tables, published, idle: tables.idle ?? `${published}_idle`, relays: tables.relays ?? `${published}_relays` };
}

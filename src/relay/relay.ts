/**
 * The relay: moves committed outbox rows to the broker, marking each `sent` only after its RECEIPT.
 *
 *   claim (short tx, lease) → send pipelined (receipt on every SEND) → mark sent in bulk as receipts come
 *
 * Several batches may be leased at once (enough to fill the send window), so claims overlap the sends and
 * the socket never idles on a database round trip; marks run beside both. A full batch is followed by the next claim
 * at once; after a short one the relay polls every few ms while rows trickle in, or, when nothing comes, lists
 * itself as idle (so that producers NOTIFY) and sleeps until a NOTIFY, a poke, or `relay.pollInterval` (./pace.ts).
 *
 * This file is the wiring, the loop, the drain and the lifecycle; sending a batch is ./sender.ts.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { describeDbError, isSchemaMissing, isSetupError } from '../db/errors.js';
import type { OutboxDb } from '../db/types.js';
import { OutboxError } from '../errors.js';
import { defaultLogger, logFields, type Logger } from '../log/logger.js';
import { createRetention } from '../retention/retention.js';
import { healthPart } from '../telemetry/health.js';
import { createRelayMetrics } from '../telemetry/metrics.js';
import { createBrokerLink } from '../transport/link.js';
import { stompConnector } from '../transport/stomp.js';
import type { Connector, Publisher } from '../transport/types.js';
import { monotonicMs } from '../util/clock.js';
import { lifecycle } from '../util/lifecycle.js';
import { createOutageLog } from '../util/outage.js';
import { databaseRetry, retry, RetryAborted } from '../util/retry.js';
import { sleep } from '../util/sleep.js';
import { settledWithin } from '../util/within.js';
import { CONNECTION_LEVEL } from './attribute.js';
import { namesInError } from '../transport/brokers.js';
import { createBreaker } from './breaker.js';
import { createClaimCursor } from './cursor.js';
import { createFailureSink } from './failures.js';
import { createGate } from './gate.js';
import { createInstance } from './instance.js';
import { createKeyedPace } from './keyed-pace.js';
import { createIdleStatements } from './idle-sql.js';
import { createLeases } from './leases.js';
import { createMarker } from './marker.js';
import { createPace } from './pace.js';
import { createProgress } from './progress.js';
import { createProber } from './prober.js';
import { createSender } from './sender.js';
import { createRelayStatements, type ClaimedRow } from './sql.js';
import { createWake } from './wake.js';

export interface RelayOptions {
  /** A Drizzle database (postgres.js, PGlite, node-postgres) where the outbox table lives. */
  db: OutboxDb;
  /** `resolveConfig(yourConfig)`: relay, broker, retention settings and table names. */
  config: ResolvedConfig;
  /** Default: consola tagged `relay`. */
  logger?: Logger;
  /** The transport: opens one broker connection. Default: STOMP to `config.broker`. */
  connect?: Connector;
  /**
   * At start-up, a database that does not exist, a refused login or a broker that refuses the credentials
   * is a configuration mistake: `run` rejects with `E_CONFIG` at once. With `wait`, they are waited out
   * like any outage (`outbox relay --wait`). After a successful start they always are.
   */
  wait?: boolean;
}

export interface Relay {
  /**
   * Relays until `signal` aborts or `stop()` is called, then drains: stops claiming, waits up to
   * `relay.shutdownTimeout` for in-flight receipts, marks what was confirmed, disconnects. Never rejects
   * for a broker or database outage (it reconnects with backoff); rejects `E_DATABASE` if the outbox table
   * does not exist. A second call returns the same promise.
   */
  run(signal?: AbortSignal): Promise<void>;
  /** Same as aborting `run`'s signal; resolves when the drain is over. Twice → the same promise. */
  stop(): Promise<void>;
}

/**
 * Batches leased at once. A batch stays leased until all its rows are marked, so this bounds what a crash
 * can resend. Enough to keep the send window full while the next batch is being claimed and the last one
 * marked: RabbitMQ confirms persistent messages after writing them, so throughput is roughly the sends
 * outstanding divided by its confirm latency. One batch more than the window holds keeps it full while
 * the next claim and the last mark are under way (measured: two 200-row batches reach about half the
 * throughput of a full 500-send window).
 */
export function maxLeasedBatches(batchSize: number, window: number): number {
  return Math.max(2, Math.ceil(window / batchSize) + 1);
}

/**
 * @example
 * const relay = createRelay({ db, config: resolveConfig(config) });
 * process.once('SIGTERM', () => relay.stop());
 * await relay.run();
 */
export function createRelay(options: RelayOptions): Relay {
  const { db, config } = options;
  const settings = config.relay;
  const logger = options.logger ?? defaultLogger('relay');
  const statements = createRelayStatements(db, config.tables);
  // Telemetry (README "Telemetry"): no-ops without @opentelemetry/api.
  const metrics = createRelayMetrics();
  const health = healthPart('relay');
  const progress = createProgress({ backlog: statements.backlog, logger, intervalSeconds: settings.progressInterval });
  const marker = createMarker({ markSent: statements.markSent, logger, batchSize: settings.batchSize, maxBackoff: config.database.maxBackoff, onMarked: progress.sent });
  const breaker = createBreaker({ base: settings.retryBackoff.base, max: settings.retryBackoff.max });
  const cursor = createClaimCursor({ rescanMs: settings.pollInterval * 1000 });
  const retryPolicy = { maxAttempts: settings.maxAttempts, base: settings.retryBackoff.base, max: settings.retryBackoff.max };
  const failures = createFailureSink({
    statements,
    logger,
    policy: retryPolicy,
    onFailed: progress.failed,
    breaker,
    cursor,
    metrics,
  });
  const leases = createLeases({ extend: statements.extend, leaseSeconds: settings.leaseTimeout, logger });
  const wake = createWake({ db, channel: config.tables.published, logger, maxBackoff: config.database.maxBackoff });
  const instance = createInstance({
    db,
    tables: config.tables,
    logger,
    onTakeOver() {
      cursor.rewind();
      wake.poke();
    },
  });
  const pace = createPace({
    statements: createIdleStatements(db, config.tables),
    wake,
    batchSize: settings.batchSize,
    pollInterval: settings.pollInterval,
    logger,
    // Listed asleep under its own id, so `outbox status` can tell which running relay is idle.
    relayId: instance.relayId,
  });
  const gate = createGate({ logger, receiptTimeout: config.broker.receiptTimeout, onChange: (blocked) => {
    instance.setState(blocked ? 'blocked' : 'running');
    health.set(blocked ? 'the broker confirms no publishes (a memory or disk alarm?)' : null);
  } });
  const connect = options.connect ?? stompConnector(config.broker, { logger, window: settings.window, wait: options.wait });
  let quietReconnect = false;
  const link = createBrokerLink<Publisher>({
    connect,
    logger,
    maxBackoff: config.broker.maxBackoff,
    // A refusal that names no queue or exchange must not kill one connection after another (its suspects are
    // probed meanwhile); a named one is the breaker's business, and an operator closing the connection, or a
    // node going down, is not a refusal.
    countsAsFailure: (reason) =>
      reason.code === 'E_BROKER_ERROR' && !CONNECTION_LEVEL.test(reason.message) && namesInError(reason.message).size === 0,
    describeBackoff: (streak, seconds) => `the broker closed ${streak} connection(s) in a row on an ERROR; reconnecting in ${seconds.toFixed(1)} s`,
    onConnected: (connection) => {
      if (!gate.blocked) health.set(null);
      if (quietReconnect) logger.debug(`connected to the broker at ${connection.address} again`);
      else logger.info(`connected to the broker at ${connection.address}`);
    },
    onLost(reason) {
      // A refusal of a destination is told once, by the failure sink, in the broker's words: the lost
      // connection and the reconnection that follow it are no news.
      quietReconnect = reason.code === 'E_BROKER_ERROR' && !CONNECTION_LEVEL.test(reason.message);
      health.set(`lost the broker connection (${reason.code})`);
      if (reason.code === 'E_RECEIPT_TIMEOUT') gate.stoppedConfirming();
      else if (quietReconnect) logger.debug(`the broker closed the connection on an ERROR (${reason.message}); reconnecting`);
      else logger.warn(`lost the broker connection (${reason.code}: ${reason.message}); reconnecting`, logFields({ error_code: reason.code }));
      wake.poke();
    },
  });
  const prober = createProber({ connect, breaker, marker, leases, statements, policy: retryPolicy, logger, maxBackoff: config.broker.maxBackoff, onFailed: progress.failed, metrics });
  const sender = createSender({ isLive: (connection) => link.isLive(connection), breaker, prober, failures, marker, leases, statements, logger, metrics, onKeyFreed: () => wake.poke() });
  const retention = createRetention({ db, tables: config.tables, retention: config.retention, logger, targets: ['published'] });
  const maxBatches = maxLeasedBatches(settings.batchSize, settings.window);
  const keyedClaims = createKeyedPace();

  const database = createOutageLog(logger, 'reach the database', describeDbError);
  const waitForDatabase = {
    policy: databaseRetry(config.database.maxBackoff),
    onRetry: (error: unknown, _attempt: number, delay: number) => database.failed(error, delay),
    // A NOTIFY, or the LISTEN connection coming back, means the database answers again: look now.
    wake: (ms: number, wakeSignal: AbortSignal) => {
      wake.clear();
      return wake.wait(ms, wakeSignal);
    },
  };

  const missingTable = (error: unknown) =>
    new OutboxError('E_DATABASE', `the outbox table ${config.tables.published} is missing or outdated (${describeDbError(error)}): run \`outbox migrate\``, { cause: error });

  /**
   * The next batch: unordered rows from the cursor, and keyed rows (heads of keys and their runs) beside them,
   * two statements on two pooled connections at once, so the unordered claim keeps its cost and its round trip.
   * Retried with the database backoff (a NOTIFY ends a wait early); undefined on abort.
   */
  async function claim(signal: AbortSignal): Promise<ClaimedRow[] | undefined> {
    try {
      const after = cursor.next();
      const started = performance.now();
      const withKeyed = keyedClaims.due();
      const [rows, keyed] = await retry(
        () => {
          const inflight = leases.ids();
          return Promise.all([
            statements.claim(settings.batchSize, settings.leaseTimeout, inflight, instance.ownerKey, after),
            withKeyed ? statements.claimKeyed(settings.batchSize, settings.leaseTimeout, inflight, instance.ownerKey) : [],
          ]);
        },
        { ...waitForDatabase, signal, fatal: isSchemaMissing },
      );
      database.recovered();
      metrics.claimed((performance.now() - started) / 1000);
      cursor.claimed(after, rows.map((r) => r.seq), rows.length >= settings.batchSize);
      if (withKeyed) keyedClaims.claimed(keyed.length, rows.length >= settings.batchSize);
      if (keyed.length === 0) return rows;
      return [...rows, ...keyed].sort((a, b) => a.seq - b.seq);
    } catch (error) {
      if (error instanceof RetryAborted) return undefined;
      throw missingTable(error);
    }
  }

  /**
   * The first statement: says what is pending, and tells a setup mistake (no such database, a refused
   * login, no outbox table) from an outage, which it waits out. False when stopped first.
   */
  async function announce(signal: AbortSignal): Promise<boolean> {
    try {
      const { pending, oldestAge } = await retry(() => statements.backlog(), {
        ...waitForDatabase,
        signal,
        fatal: (error) => isSchemaMissing(error) || (!options.wait && isSetupError(error)),
      });
      database.recovered();
      logger.info(`relaying ${config.tables.published}: ${pending.toLocaleString('en-US')} pending${oldestAge !== null ? `, oldest ${oldestAge.toFixed(1)} s` : ''}`);
      return true;
    } catch (error) {
      if (error instanceof RetryAborted) return false;
      if (isSchemaMissing(error)) throw missingTable(error);
      throw new OutboxError('E_CONFIG', `the database refused the relay: ${describeDbError(error)} — check DATABASE_URL or database.url (or start with --wait to wait for it)`, { cause: error });
    }
  }

  let stopObserving = () => {};

  async function loop(signal: AbortSignal): Promise<void> {
    const inflight = new Set<Promise<void>>();
    try {
      health.start();
      if (!(await announce(signal))) return;
      await instance.start();
      await wake.start();
      progress.start();
      stopObserving = metrics.observeBacklog(statements.backlog);
      retention.start();
      leases.start();
      while (!signal.aborted) {
        // Bounded: at most maxBatches leased and not yet marked.
        while (!signal.aborted && inflight.size >= maxBatches) {
          await Promise.race([...inflight, sleep(20, signal)]);
        }
        const connection = await link.ensure(signal);
        if (!connection || signal.aborted) break;
        // After the broker stopped confirming, nothing is claimed until it confirms again.
        if (!(await gate.open(connection))) continue;
        wake.clear();
        const rows = await claim(signal);
        if (!rows) continue;
        if (rows.length > 0 && (signal.aborted || !link.alive)) {
          // Claimed but never written: give them straight back, attempt refunded.
          await statements.release(rows, true, null).catch(() => {});
          continue;
        }
        if (rows.length > 0) {
          const batch = sender.dispatch(connection, rows);
          inflight.add(batch);
          void batch.finally(() => inflight.delete(batch));
        }
        await pace.after(rows.length, signal);
      }
    } finally {
      await drain(inflight);
    }
  }

  /**
   * The whole drain takes at most `relay.shutdownTimeout`: receipts may use all but a last quarter (at most
   * 2 s), kept for writing what happened (marks, failures, releases) and the DISCONNECT. Whatever is not
   * written by then stays leased and comes back after the lease — even with the database down, shutdown
   * does not outlast the timeout.
   */
  async function drain(inflight: Set<Promise<void>>): Promise<void> {
    const timeout = settings.shutdownTimeout * 1000;
    const deadline = monotonicMs() + timeout;
    const left = (reserve = 0) => Math.max(0, deadline - reserve - monotonicMs());
    const reserve = Math.min(timeout / 4, 2000);
    // No more claims: producers need not notify this relay any more (bounded: if the database is away, the
    // listing lapses by itself).
    await settledWithin(pace.stop(), Math.min(2000, left(reserve)));
    if (inflight.size > 0) logger.info(`stopping: waiting up to ${(left(reserve) / 1000).toFixed(1)} s for ${inflight.size} batch(es) in flight`);
    const settled = await settledWithin(Promise.all(inflight), left(reserve));
    await prober.stop(Math.min(1000, left(reserve)));
    if (!settled) {
      // Unconfirmed sends may or may not have reached the broker: release them (attempt kept) so the next
      // relay resends them now instead of after the lease. The consumer's inbox absorbs a duplicate.
      failures.shuttingDown();
      link.destroy(new OutboxError('E_ABORTED', 'relay stopped before the receipt'));
    }
    if (!(await settledWithin(failures.flush(), left()))) failures.abandon();
    const marked = await settledWithin(marker.flush(), left());
    if (!marked) logger.warn(`${marker.backlog} confirmed rows could not be marked sent: they will be sent again after their lease`);
    marker.stop();
    leases.stop();
    await settledWithin(Promise.all(inflight), left());
    await link.disconnect(Math.max(100, left()));
    progress.stop();
    stopObserving();
    health.dispose();
    await settledWithin(Promise.all([wake.stop(), retention.stop(), instance.stop()]), Math.max(100, left()));
    logger.info(`stopped (${progress.totals.sent.toLocaleString('en-US')} sent, ${progress.totals.failed} failed since start)`);
  }

  return lifecycle(loop);
}

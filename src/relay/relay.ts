/**
 * The relay: moves committed outbox rows to the broker, marking each `sent` only after its RECEIPT.
 *
 *   claim (short tx, lease) → send pipelined (receipt on every SEND) → mark sent in bulk as receipts come
 *
 * Several batches may be leased at once (enough to fill the send window), so claims overlap the sends and
 * the socket never idles on a database round trip; marks run beside both. A full batch is followed by the next claim
 * at once; after a short one the relay polls every few ms while rows trickle in, or, when nothing comes, lists
 * itself as idle (so that producers NOTIFY) and sleeps until a NOTIFY, a poke, or `relay.pollInterval` (./idle.ts).
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { OutboxDb } from '../db/types.js';
import { OutboxError } from '../errors.js';
import { defaultLogger, type Logger } from '../log/logger.js';
import { createRetention } from '../retention/retention.js';
import { backoffSeconds } from '../util/backoff.js';
import type { StompSession } from '../stomp/types.js';
import { describeDbError, isSchemaMissing } from '../db/errors.js';
import { createBreaker } from './breaker.js';
import { createFailureSink } from './failures.js';
import { createLeases } from './leases.js';
import { createBrokerLink } from './link.js';
import { createMarker } from './marker.js';
import { createProgress } from './progress.js';
import { createPace } from './pace.js';
import { createIdleStatements } from './idle-sql.js';
import { createRelayStatements, type ClaimedRow } from './sql.js';
import { createWake } from './wake.js';
import { sendBody } from '../wire/body.js';
import { sendHeaders } from '../wire/headers.js';
import { sleep } from '../util/sleep.js';

export interface RelayOptions {
  /** A Drizzle database (postgres.js, PGlite, node-postgres) where the outbox table lives. */
  db: OutboxDb;
  /** `resolveConfig(yourConfig)`: relay, broker, retention settings and table names. */
  config: ResolvedConfig;
  /** Default: consola tagged `relay`. */
  logger?: Logger;
}

export interface Relay {
  /**
   * Relays until `signal` aborts or `stop()` is called, then drains: stops claiming, waits up to
   * `relay.shutdownTimeout` for in-flight receipts, marks what was confirmed, disconnects. Never rejects
   * for a broker or database outage (it reconnects with backoff); rejects `E_DATABASE` if the outbox table
   * does not exist.
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
  const progress = createProgress({ backlog: statements.backlog, logger, intervalSeconds: settings.progressInterval });
  const marker = createMarker({ markSent: statements.markSent, logger, batchSize: settings.batchSize, onMarked: progress.sent });
  const failures = createFailureSink({
    statements,
    logger,
    policy: { maxAttempts: settings.maxAttempts, base: settings.retryBackoff.base, max: settings.retryBackoff.max },
    onFailed: progress.failed,
    onRefused: (destination) => {
      breaker.trip(destination);
      logger.warn(`the broker refused ${destination}: holding its rows, one probe in ${breaker.holdSeconds(destination).toFixed(1)} s`);
    },
  });
  const breaker = createBreaker({ base: settings.retryBackoff.base, max: settings.retryBackoff.max });
  const leases = createLeases({ extend: statements.extend, leaseSeconds: settings.leaseTimeout, logger });
  const wake = createWake({ db, channel: config.tables.published, logger });
  const pace = createPace({
    statements: createIdleStatements(db, config.tables),
    wake,
    batchSize: settings.batchSize,
    pollInterval: settings.pollInterval,
    logger,
  });
  const link = createBrokerLink({ broker: config.broker, window: settings.window, logger, onLost: () => wake.poke() });
  const retention = createRetention({ db, tables: config.tables, retention: config.retention, logger, targets: ['published'] });
  const maxBatches = maxLeasedBatches(settings.batchSize, settings.window);
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  // Sends handed to the session and not yet settled; a probe waits for none to be left.
  let outstanding = 0;
  let quietWaiters: Array<() => void> = [];
  const quiet = () => (outstanding === 0 ? Promise.resolve() : new Promise<void>((resolve) => quietWaiters.push(resolve)));
  // While a probe is out, no other send is written: a refusal then has no bystanders.
  let probing: Promise<void> | undefined;

  /** Sends one row; true once confirmed (then marked), false if it failed (then judged by `failures`). */
  function sendRow(session: StompSession, row: ClaimedRow): Promise<boolean> {
    let sent: Promise<void>;
    try {
      sent = session.send(row.destination, sendBody(row.body), { headers: sendHeaders(row.headers, row) });
    } catch (error) {
      sent = Promise.reject(error);
    }
    outstanding++;
    return sent
      .then(
        () => (marker.add(row.id), true),
        (error: unknown) => (failures.add(row, error), false),
      )
      .finally(() => {
        if (--outstanding > 0) return;
        const waiters = quietWaiters;
        quietWaiters = [];
        for (const resolve of waiters) resolve();
      });
  }

  /** Holds rows of refused destinations (not sent, attempt given back) until their probe is due. */
  async function hold(rows: ClaimedRow[]): Promise<void> {
    const byDestination = new Map<string, ClaimedRow[]>();
    for (const row of rows) byDestination.set(row.destination, [...(byDestination.get(row.destination) ?? []), row]);
    for (const [destination, group] of byDestination) {
      // If this fails the rows stay leased and come back after the lease, their attempt counted.
      await statements.hold(group, breaker.holdSeconds(destination)).catch((error: unknown) => logger.warn(`cannot hold ${group.length} rows to ${destination} (${describeDbError(error)})`));
    }
  }

  /**
   * Sends a claimed batch: rows of a refused destination are held; the first row of a destination whose
   * hold is over goes alone as its probe (the batch's other rows of that destination wait for its verdict);
   * the rest goes pipelined. The batch stays leased (and its lease extended) until every row is settled.
   */
  async function dispatch(session: StompSession, rows: ClaimedRow[]): Promise<void> {
    const batch = leases.add(rows);
    try {
      while (probing) await probing;
      const held: ClaimedRow[] = [];
      const probes: ClaimedRow[] = [];
      const afterProbe: ClaimedRow[] = [];
      let ready: ClaimedRow[] = [];
      const probed = new Set<string>();
      for (const row of rows) {
        if (probed.has(row.destination)) {
          afterProbe.push(row);
          continue;
        }
        const route = breaker.route(row.destination);
        if (route === 'hold') held.push(row);
        else if (route === 'send') ready.push(row);
        else {
          probes.push(row);
          probed.add(row.destination);
        }
      }
      const sends: Promise<boolean>[] = [];
      for (const probe of probes) {
        if (!link.isLive(session)) {
          breaker.probed(probe.destination, false);
          ready.push(probe);
          continue;
        }
        logger.info(`probing ${probe.destination} with one row sent alone`);
        probing = (async () => {
          await quiet();
          const confirmed = await sendRow(session, probe);
          breaker.probed(probe.destination, confirmed);
          if (confirmed) logger.info(`${probe.destination} accepted the probe: resuming`);
        })();
        await probing;
        probing = undefined;
      }
      for (const row of afterProbe) (breaker.route(row.destination) === 'send' ? ready : held).push(row);
      const holding = hold(held);
      if (!link.isLive(session)) {
        // The connection died under a probe (or before): these were never written. Give them back now.
        await statements.release(ready, true, null).catch(() => {});
        ready = [];
      }
      for (const row of ready) sends.push(sendRow(session, row));
      await Promise.all([holding, ...sends]);
      await marker.settled();
    } finally {
      leases.settle(batch);
    }
  }

  async function claim(signal: AbortSignal, dbFailures: { count: number }): Promise<ClaimedRow[] | undefined> {
    try {
      const rows = await statements.claim(settings.batchSize, settings.leaseTimeout, leases.ids());
      if (dbFailures.count > 0) logger.info('the database is back');
      dbFailures.count = 0;
      return rows;
    } catch (error) {
      if (isSchemaMissing(error)) {
        throw new OutboxError('E_DATABASE', `the outbox table ${config.tables.published} is missing or outdated (${describeDbError(error)}): run \`outbox migrate\``, { cause: error });
      }
      const delay = backoffSeconds(dbFailures.count++, config.broker.maxBackoff);
      logger.warn(`cannot claim from the database (${describeDbError(error)}); retrying in ${delay.toFixed(1)} s`);
      await sleep(delay * 1000, signal);
      return undefined;
    }
  }

  async function loop(signal: AbortSignal): Promise<void> {
    const inflight = new Set<Promise<void>>();
    const dbFailures = { count: 0 };
    try {
      await wake.start();
      progress.start();
      retention.start();
      leases.start();
      await announce();
      while (!signal.aborted) {
        // Bounded: at most maxBatches leased and not yet marked.
        while (!signal.aborted && inflight.size >= maxBatches) {
          await Promise.race([...inflight, sleep(20, signal)]);
        }
        const session = await link.ensure(signal);
        if (!session || signal.aborted) break;
        wake.clear();
        const rows = await claim(signal, dbFailures);
        if (!rows) continue;
        if (rows.length > 0 && (signal.aborted || !link.alive)) {
          // Claimed but never written: give them straight back, attempt refunded.
          await statements.release(rows, true, null).catch(() => {});
          continue;
        }
        if (rows.length > 0) {
          const batch = dispatch(session, rows);
          inflight.add(batch);
          void batch.finally(() => inflight.delete(batch));
        }
        await pace.after(rows.length, signal);
      }
    } finally {
      await drain(inflight);
    }
  }

  async function announce(): Promise<void> {
    try {
      const { pending, oldestAge } = await statements.backlog();
      logger.info(`relaying ${config.tables.published}: ${pending.toLocaleString('en-US')} pending${oldestAge !== null ? `, oldest ${oldestAge.toFixed(1)} s` : ''}`);
    } catch (error) {
      if (isSchemaMissing(error)) {
        throw new OutboxError('E_DATABASE', `the outbox table ${config.tables.published} is missing (${describeDbError(error)}): run \`outbox migrate\``, { cause: error });
      }
      logger.warn(`the database is not answering yet (${describeDbError(error)}); will keep trying`);
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
    const deadline = Date.now() + timeout;
    const left = (reserve = 0) => Math.max(0, deadline - reserve - Date.now());
    const reserve = Math.min(timeout / 4, 2000);
    // No more claims: producers need not notify this relay any more (bounded: if the database is away, the
    // listing lapses by itself).
    await within(pace.stop(), Math.min(2000, left(reserve)));
    if (inflight.size > 0) logger.info(`stopping: waiting up to ${(left(reserve) / 1000).toFixed(1)} s for ${inflight.size} batch(es) in flight`);
    const settled = await within(Promise.all(inflight), left(reserve));
    if (!settled) {
      // Unconfirmed sends may or may not have reached the broker: release them (attempt kept) so the next
      // relay resends them now instead of after the lease. The consumer's inbox absorbs a duplicate.
      failures.shuttingDown();
      link.destroy(new OutboxError('E_ABORTED', 'relay stopped before the receipt'));
    }
    if (!(await within(failures.flush(), left()))) failures.abandon();
    const marked = await within(marker.flush(), left());
    if (!marked) logger.warn(`${marker.backlog} confirmed rows could not be marked sent: they will be sent again after their lease`);
    marker.stop();
    leases.stop();
    await within(Promise.all(inflight), left());
    await link.disconnect(Math.max(100, left()));
    progress.stop();
    await within(Promise.all([wake.stop(), retention.stop()]), Math.max(100, left()));
    logger.info(`stopped (${progress.totals.sent.toLocaleString('en-US')} sent, ${progress.totals.failed} failed since start)`);
  }

  return {
    run(signal) {
      if (running) return running;
      const onAbort = () => controller.abort();
      if (signal?.aborted) controller.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      running = loop(controller.signal).finally(() => signal?.removeEventListener('abort', onAbort));
      return running;
    },
    stop() {
      return (stopping ??= (async () => {
        controller.abort();
        await running?.catch(() => {});
      })());
    },
  };
}

/** True if `work` settled within `ms` (its rejection counts as settled); the timer never outlives it. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Retention: deletes `sent` outbox rows and inbox rows older than `retention.days`, in batches of
 * `retention.batchSize`, at most once per `retention.interval` — tracked in the maintenance table, so any
 * number of relays and consumers share one schedule instead of each repeating the work. Never deletes
 * pending or failed outbox rows. Runs beside the send path, never inside it.
 */
import type { RetentionConfig, TableNames } from '../config/types.js';
import type { OutboxDb } from '../db/types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { monotonicMs } from '../util/clock.js';
import { sleep } from '../util/sleep.js';
import { describeDbError } from '../db/errors.js';
import { createRetentionStatements, type RetentionTarget } from './sql.js';

export type { RetentionTarget } from './sql.js';

export interface RetentionOptions {
  db: OutboxDb;
  tables: TableNames;
  retention: RetentionConfig;
  logger?: Logger;
  /** Which tables this process keeps tidy: the relay `['published']`, the consumer `['received']`. Default both. */
  targets?: RetentionTarget[];
  /** Told each batch's duration, ms (benchmarks, metrics). */
  onBatch?(ms: number): void;
}

/** Rows deleted per table by a run; a table is absent when its run was not due. */
export type RetentionReport = Partial<Record<RetentionTarget, number>>;

export interface Retention {
  /**
   * Runs retention for each target whose last run (in the database) is older than `retention.interval`;
   * otherwise costs one tiny statement. Aborting stops between batches. Never rejects: errors are logged.
   */
  maybeRun(signal?: AbortSignal): Promise<RetentionReport>;
  /** Calls `maybeRun` now and then every `min(interval, 5 min)` until `stop()`. */
  start(): void;
  /** Stops the timer and waits for a run in progress to stop at its next batch. Idempotent. */
  stop(): Promise<void>;
}

/** After each batch, rest this many times its duration: retention's share of the database stays under 1/(1+4). */
const REST_FACTOR = 4;

/** The maintenance-table task name for a table's retention. */
export const retentionTask = (table: string) => `retention:${table}`;

/**
 * @example
 * const retention = createRetention({ db, tables: config.tables, retention: config.retention, targets: ['received'] });
 * retention.start();
 * // … on shutdown
 * await retention.stop();
 */
export function createRetention(options: RetentionOptions): Retention {
  const { db, tables, retention } = options;
  const logger = options.logger ?? silentLogger;
  const targets = options.targets ?? ['published', 'received'];
  const statements = createRetentionStatements(db, tables);
  const controller = new AbortController();
  let running: Promise<RetentionReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  async function runTarget(target: RetentionTarget, signal: AbortSignal): Promise<number | undefined> {
    const table = tables[target];
    const claim = await statements.claimRun(retentionTask(table), retention.interval);
    if (!claim) return undefined;
    let deleted = 0;
    let finished = false;
    let from: string | null = null;
    try {
      for (;;) {
        if (signal.aborted || controller.signal.aborted) break;
        const started = monotonicMs();
        const batch = await statements.deleteBatch(target, retention.days, retention.batchSize, from);
        const ms = monotonicMs() - started;
        options.onBatch?.(ms);
        deleted += batch.deleted;
        from = batch.last;
        if (batch.deleted < retention.batchSize) {
          finished = true;
          break;
        }
        // Retention takes at most a fifth of the database's time from the send path: after each batch it
        // rests four times as long as the batch took (at least 10 ms).
        await sleep(Math.max(10, ms * REST_FACTOR), signal);
      }
    } finally {
      // The mark was taken up front (so that one runner of many runs); a run that did not finish gives it
      // back, so the next check (within 5 min) retries rather than the next interval.
      if (!finished) await statements.unclaimRun(claim).catch((error: unknown) => logger.warn(`retention of ${table}: cannot reset its last run (${describeDbError(error)}); it runs again after the interval`));
    }
    const what = target === 'published' ? 'sent outbox rows' : 'inbox rows';
    // A run that found nothing is not news; one that deleted rows is.
    (deleted > 0 ? logger.info : logger.debug).call(logger, `retention: deleted ${deleted.toLocaleString('en-US')} ${what} older than ${retention.days} days from ${table}`);
    return deleted;
  }

  async function run(signal: AbortSignal): Promise<RetentionReport> {
    const report: RetentionReport = {};
    for (const target of targets) {
      try {
        const deleted = await runTarget(target, signal);
        if (deleted !== undefined) report[target] = deleted;
      } catch (error) {
        logger.warn(`retention of ${tables[target]} failed, will try again later: ${describeDbError(error)}`);
      }
    }
    return report;
  }

  const maybeRun = (signal: AbortSignal = controller.signal) =>
    (running ??= run(signal).finally(() => {
      running = undefined;
    }));

  return {
    maybeRun,
    start() {
      if (timer || controller.signal.aborted) return;
      void maybeRun();
      const every = Math.min(retention.interval, 300) * 1000;
      timer = setInterval(() => void maybeRun(), every);
      timer.unref();
    },
    stop() {
      return (stopping ??= (async () => {
        clearInterval(timer);
        controller.abort();
        await running;
      })());
    },
  };
}

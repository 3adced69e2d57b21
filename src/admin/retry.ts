import type { TableNames } from '../config/types.js';
import type { OutboxDb } from '../db/types.js';
import { monotonicMs } from '../util/clock.js';
import { createFailedStatements, type FailedCursor, type FailedFilter } from './failed-sql.js';

export interface RetryOptions extends FailedFilter {
  /** Re-queue at most this many rows (default: every match). */
  limit?: number;
  /**
   * Rows per statement (default 1000): each batch is its own short transaction, so a large re-queue never
   * holds thousands of row locks or writes one huge transaction (one statement for 100,000 rows: 2.2 s and
   * 186 MB of WAL in one go).
   */
  batchSize?: number;
  /** After each batch: rows re-queued by it and how long it took (ms). */
  onBatch?(rows: number, ms: number): void;
}

/** Rows per re-queue statement. */
export const RETRY_BATCH = 1000;

/**
 * Re-queues failed rows (all, or those of one destination, with these ids, written since a time; at most
 * `limit`): pending, attempts 0, due now, in batches of `batchSize`, each followed by a NOTIFY so running
 * relays start on them at once. Returns how many rows were re-queued.
 *
 * @example
 * await retryFailed(db, tables, { destination: '/queue/billing', since: { seconds: 3600 } });
 */
export async function retryFailed(db: OutboxDb, tables: TableNames, options: RetryOptions = {}): Promise<number> {
  const statements = createFailedStatements(db, tables);
  const batchSize = options.batchSize ?? RETRY_BATCH;
  const limit = options.limit ?? Infinity;
  let cursor: FailedCursor | null = null;
  let total = 0;
  while (total < limit) {
    const started = monotonicMs();
    const batch = await statements.requeue(options, Math.min(batchSize, limit - total), cursor);
    if (batch.count === 0) break;
    total += batch.count;
    cursor = batch.cursor;
    options.onBatch?.(batch.count, monotonicMs() - started);
    // The insert trigger does not fire on UPDATE: wake the relays by hand, batch by batch.
    await statements.notify();
  }
  return total;
}

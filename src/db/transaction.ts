/**
 * Runs `fn` in a transaction on any driver, so that a database outage can never leak a connection or end
 * the process. drizzle-orm 0.45's node-postgres transaction sends BEGIN before its `try`: when BEGIN fails
 * (the backend was just terminated) the pooled client is never released, and after a few such failures
 * every caller waits on an empty pool forever (measured). Its ROLLBACK after a failure on a dead connection
 * also throws, hiding the error that mattered. Here the client is checked out and released by us (with the
 * error, so the pool discards a broken one), and the callback's own error is the one thrown.
 *
 * @example
 * await runTransaction(db, async (tx) => { await tx.insert(shipments).values(row); });
 */
import type { Pool, PoolClient } from 'pg';
import { clientOf, driverOf } from './driver.js';
import { isConnectionError } from './errors.js';
import type { OutboxDb, OutboxTx } from './types.js';

export async function runTransaction<T>(db: OutboxDb, fn: (tx: OutboxTx) => Promise<T>): Promise<T> {
  let thrown: { error: unknown } | undefined;
  const body = async (tx: OutboxTx): Promise<T> => {
    try {
      return await fn(tx);
    } catch (error) {
      thrown = { error };
      throw error;
    }
  };
  if (driverOf(db) !== 'node-postgres' || typeof (clientOf(db) as Pool).totalCount !== 'number') {
    try {
      return await db.transaction(body);
    } catch (error) {
      throw thrown ? thrown.error : error;
    }
  }
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const client: PoolClient = await (clientOf(db) as Pool).connect();
  let failure: unknown;
  try {
    // On one checked-out client drizzle's transaction runs BEGIN … COMMIT on it and releases nothing.
    return await (drizzle({ client }) as unknown as OutboxDb).transaction(body);
  } catch (error) {
    failure = thrown ? thrown.error : error;
    throw failure;
  } finally {
    // A connection error (or a commit whose outcome is unknown) must not return the client to the pool.
    client.release(failure !== undefined && (isConnectionError(failure) || isConnectionError(thrown?.error)) ? (failure as Error) : undefined);
  }
}

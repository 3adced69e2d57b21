/**
 * Runs `fn` in a transaction on any driver, so that a database outage can never leak a connection or end
 * the process. drizzle-orm 0.45's node-postgres transaction sends BEGIN before its `try`: when BEGIN fails
 * (the backend was just terminated) the pooled client is never released, and after a few such failures
 * every caller waits on an empty pool forever (measured). Its ROLLBACK after a failure on a dead connection
 * also throws, hiding the error that mattered. Here the client is checked out and released by us (with the
 * error, so the pool discards a broken one), and the callback's own error is the one thrown. Its BEGIN waits
 * for the first statement, and goes in one round trip with it when that is a prepared one (deferred-begin.ts).
 *
 * @example
 * await runTransaction(db, async (tx) => { await tx.insert(shipments).values(row); });
 */
import { sql } from 'drizzle-orm';
import type { Pool, PoolClient } from 'pg';
import { deferBegin, type DeferredBeginClient } from './deferred-begin.js';
import { clientOf, driverOf } from './driver.js';
import { isConnectionError, sqlState } from './errors.js';
import type { PreparedStatement } from './prepared.js';
import type { OutboxDb, OutboxTx } from './types.js';

export interface TransactionOptions {
  /**
   * Aborting closes the transaction's connection (node-postgres only): a statement stuck on it — a lock wait,
   * a server that stopped answering — fails at once, and PostgreSQL rolls back whatever had not committed.
   * The only way to put a deadline on a statement already sent, since a connection answers in order. While
   * no connection has been got from the pool yet, aborting ends that wait (with the signal's reason).
   */
  signal?: AbortSignal;
  /**
   * Told when `fn` threw and the transaction could then not be rolled back (ROLLBACK failed, as it does on a
   * dead connection): the failure was the connection's, whatever `fn` threw. `fn`'s error is still the one
   * thrown.
   */
  onRollbackFailed?(error: unknown): void;
  /**
   * Runs `fn` in the transaction a chained COMMIT opened on this connection (TransactionState.chain)
   * instead of checking one out: its BEGIN and first statement are already sent.
   */
  adopt?: OpenTransaction;
}

/** A connection a chained COMMIT left inside the next transaction: for `runTransaction`'s `adopt`. */
export interface OpenTransaction {
  readonly client: PoolClient;
}

/** What `TransactionState.chain` armed: once `runTransaction` has resolved, the transaction it opened. */
export interface ChainLink {
  /**
   * The connection, inside the next transaction, for the caller to run that transaction on (it must: it
   * is not back in the pool). Undefined when the COMMIT did not go through, or went through on a connection
   * closed meanwhile (its deadline): then nothing of the next transaction stays.
   */
  readonly open: OpenTransaction | undefined;
}

/** What `fn` may ask about its own transaction. */
export interface TransactionState {
  /**
   * Has a failed statement aborted the transaction (a handler caught the error and went on)? PostgreSQL
   * answers COMMIT of an aborted transaction with ROLLBACK, not an error, and Drizzle drops that answer: ask
   * before relying on the commit. node-postgres knows it from the last ReadyForQuery (no round trip);
   * other drivers send one statement, which fails with 25P02 in an aborted transaction.
   */
  aborted(): Promise<boolean>;
  /**
   * Runs `statement` on the transaction's connection as a named prepared statement (node-postgres): parsed
   * and planned once per connection instead of once per call. Undefined on other drivers, where the caller
   * runs its statement through `tx.execute`.
   */
  prepared?(statement: PreparedStatement, values: unknown[]): Promise<Array<Record<string, unknown>>>;
  /**
   * Sends the next transaction's BEGIN and first statement (`statement`, already prepared on this
   * connection) with this one's COMMIT, in one round trip (node-postgres). Call it last, just before `fn`
   * returns. Undefined where it cannot be done; then nothing changes.
   */
  chain?(statement: PreparedStatement, values: unknown[]): ChainLink | undefined;
}

export async function runTransaction<T>(
  db: OutboxDb,
  fn: (tx: OutboxTx, state: TransactionState) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  let thrown: { error: unknown } | undefined;
  let client: PoolClient | undefined;
  let on: OnClient | undefined;
  let handedOff = false;
  const link: ChainLink = {
    get open() {
      return handedOff ? { client: client! } : undefined;
    },
  };
  const chain = (statement: PreparedStatement, values: unknown[]) => (on!.deferred.chain(statement, values) ? link : undefined);
  const body = async (tx: OutboxTx): Promise<T> => {
    try {
      return await fn(tx, { aborted: () => aborted(tx, client), prepared: on?.deferred.prepared, chain: on && chain });
    } catch (error) {
      thrown = { error };
      throw error;
    }
  };
  // drizzle throws the ROLLBACK's error when the rollback itself failed: anything but fn's own error.
  const unwrap = (error: unknown): unknown => {
    if (!thrown) return error;
    if (error !== thrown.error) options.onRollbackFailed?.(error);
    return thrown.error;
  };
  if (driverOf(db) !== 'node-postgres' || typeof (clientOf(db) as Pool).totalCount !== 'number') {
    try {
      return await db.transaction(body);
    } catch (error) {
      throw unwrap(error);
    }
  }
  const { signal, adopt } = options;
  if (adopt) {
    // Its listener came with it.
    client = adopt.client;
  } else {
    client = await checkOut(clientOf(db) as Pool, signal);
    // A checked-out client has no listener from the pool: an 'error' event (a terminated backend) with none
    // would end the process.
    client.on('error', ignore);
  }
  const cut = (): void => void client.end().catch(ignore);
  signal?.addEventListener('abort', cut, { once: true });
  if (signal?.aborted) cut();
  let failure: unknown;
  try {
    on = await drizzleOn(client);
    return await on.db.transaction(body);
  } catch (error) {
    failure = unwrap(error);
    throw failure;
  } finally {
    signal?.removeEventListener('abort', cut);
    // A connection error (or a commit whose outcome is unknown) must not return the client to the pool. A
    // discarded client keeps the listener: it may still report its end after the pool let go of it.
    const broken = signal?.aborted || (failure !== undefined && (isConnectionError(failure) || isConnectionError(thrown?.error)));
    // Its COMMIT opened the next transaction: the connection goes on to it, listener and all (link.open).
    handedOff = !broken && failure === undefined && on?.deferred.opened === true;
    if (!handedOff) {
      if (!broken) client.off('error', ignore);
      client.release(broken ? ((failure as Error) ?? new Error('transaction aborted')) : undefined);
    }
  }
}

/** The listener a client keeps while out of the pool; one per client, however many transactions it passes through. */
const ignore = (): void => {};

let nodePostgres: Promise<typeof import('drizzle-orm/node-postgres')> | undefined;

interface OnClient {
  /** On one checked-out client, drizzle's transaction runs BEGIN … COMMIT on it and releases nothing. */
  db: OutboxDb;
  /** Its BEGIN waits for the first statement, to travel with it (deferred-begin.ts). */
  deferred: DeferredBeginClient;
}

/** Made once per client: the pool hands the same few out again and again. */
const onClients = new WeakMap<PoolClient, OnClient>();

async function drizzleOn(client: PoolClient): Promise<OnClient> {
  const known = onClients.get(client);
  if (known) return known;
  const { drizzle } = await (nodePostgres ??= import('drizzle-orm/node-postgres'));
  const deferred = deferBegin(client);
  const made = { db: drizzle({ client: deferred.client as PoolClient }) as unknown as OutboxDb, deferred };
  onClients.set(client, made);
  return made;
}

/**
 * A client from the pool, unless the signal aborts first: a pool whose connections are all taken (or a
 * server that stopped answering) would make the wait endless. A client that comes after the abort goes back.
 */
async function checkOut(pool: Pool, signal: AbortSignal | undefined): Promise<PoolClient> {
  if (signal?.aborted) throw signal.reason;
  const connecting = pool.connect();
  if (!signal) return connecting;
  return new Promise<PoolClient>((resolve, reject) => {
    const onAbort = (): void => {
      connecting.then((client) => client.release(), () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    connecting.then(
      (client) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return;
        resolve(client);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

async function aborted(tx: OutboxTx, client: PoolClient | undefined): Promise<boolean> {
  const status = client && (await settledStatus(client));
  if (status === 'E') return true;
  if (status === 'T') return false;
  try {
    await tx.execute(sql`select 1`);
    return false;
  } catch (error) {
    if (sqlState(error) === '25P02') return true;
    throw error;
  }
}

type StatusClient = PoolClient & { readyForQuery?: boolean; getTransactionStatus?(): string | null };

/**
 * The client's transaction status once its last statement has fully ended. node-postgres rejects a failed
 * statement as soon as the error arrives, before the ReadyForQuery that carries the new status ('E'), which
 * may come in a later packet: until then the status read is the one before the failure. Undefined when the
 * client cannot say (an older node-postgres) or its connection ended meanwhile.
 */
async function settledStatus(client: StatusClient): Promise<string | undefined> {
  if (typeof client.getTransactionStatus !== 'function' || typeof client.readyForQuery !== 'boolean') return undefined;
  if (!client.readyForQuery) {
    const idle = await new Promise<boolean>((resolve) => {
      const done = (ready: boolean) => () => {
        client.off('drain', onDrain);
        client.off('end', onEnd);
        resolve(ready);
      };
      const onDrain = done(true);
      const onEnd = done(false);
      client.once('drain', onDrain);
      client.once('end', onEnd);
    });
    if (!idle) return undefined;
  }
  return client.getTransactionStatus() ?? undefined;
}

/**
 * A session-level advisory lock held for as long as the process lives, on a connection of its own.
 * PostgreSQL releases it when that session ends — the process died, was killed, or lost its connection —
 * so another process can tell from `pg_locks` whether the holder is still there, without waiting out a
 * timeout. If the connection is lost while the process lives, the lock is taken again as soon as the
 * database answers (`onRegained`); meanwhile others may take the holder for dead.
 */
import { sql } from 'drizzle-orm';
import { clientOf, driverOf } from './driver.js';
import type { OutboxDb } from './types.js';

export interface SessionLock {
  /** True while the lock is held. */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface SessionLockHandlers {
  onLost?(): void;
  onRegained?(): void;
}

/** While the lock is lost, try to take it again this often, ms. */
const RETAKE_MS = 1000;
/** postgres.js gives no event for a lost reserved connection: it is asked this often, ms. */
const CHECK_MS = 1000;

/** Takes `pg_advisory_lock(key1, key2)` on a dedicated session; rejects if the first attempt fails. */
export async function holdSessionLock(db: OutboxDb, keys: [number, number], handlers: SessionLockHandlers = {}): Promise<SessionLock> {
  const lockSql = `select pg_advisory_lock(${keys[0] | 0}, ${keys[1] | 0})`;
  switch (driverOf(db)) {
    case 'node-postgres':
      return holdNodePostgres(db, lockSql, handlers);
    case 'postgres-js':
      return holdPostgresJs(db, lockSql, handlers);
    default: {
      // PGlite (one session for the process) and unknown drivers: the database's own session holds it.
      await db.execute(sql.raw(lockSql));
      return { held: true, release: async () => {} };
    }
  }
}

async function holdNodePostgres(db: OutboxDb, lockSql: string, handlers: SessionLockHandlers): Promise<SessionLock> {
  const { default: pg } = await import('pg');
  const options = ((clientOf(db) as { options?: unknown }).options ?? {}) as import('pg').ClientConfig;
  let client: import('pg').Client | undefined;
  let released = false;
  let timer: NodeJS.Timeout | undefined;

  async function take(): Promise<void> {
    const c = new pg.Client(options);
    // Without an 'error' listener a lost connection's error event ends the process.
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(lockSql);
    } catch (error) {
      c.end().catch(() => {});
      throw error;
    }
    c.once('end', () => {
      if (client !== c || released) return;
      client = undefined;
      handlers.onLost?.();
      retake();
    });
    client = c;
  }

  function retake(): void {
    timer = setTimeout(() => {
      if (released) return;
      take().then(() => handlers.onRegained?.(), retake);
    }, RETAKE_MS);
    timer.unref();
  }

  await take();
  return {
    get held() {
      return client !== undefined;
    },
    async release() {
      released = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      // Ending the session releases the lock.
      await c?.end().catch(() => {});
    },
  };
}

interface ReservedSql {
  unsafe(query: string): Promise<unknown>;
  release(): void;
}

async function holdPostgresJs(db: OutboxDb, lockSql: string, handlers: SessionLockHandlers): Promise<SessionLock> {
  const client = clientOf(db) as { reserve(): Promise<ReservedSql> };
  let reserved: ReservedSql | undefined;
  let released = false;
  let timer: NodeJS.Timeout | undefined;

  async function take(): Promise<void> {
    const r = await client.reserve();
    try {
      await r.unsafe(lockSql);
    } catch (error) {
      r.release();
      throw error;
    }
    reserved = r;
  }

  function check(): void {
    timer = setTimeout(async () => {
      if (released) return;
      if (reserved) {
        try {
          await reserved.unsafe('select 1');
        } catch {
          reserved.release();
          reserved = undefined;
          handlers.onLost?.();
        }
      } else {
        try {
          await take();
          handlers.onRegained?.();
        } catch {
          /* the database is still away */
        }
      }
      check();
    }, reserved ? CHECK_MS : RETAKE_MS);
    timer.unref();
  }

  await take();
  check();
  return {
    get held() {
      return reserved !== undefined;
    },
    async release() {
      released = true;
      clearTimeout(timer);
      const r = reserved;
      reserved = undefined;
      if (r) {
        await r.unsafe('select pg_advisory_unlock_all()').catch(() => {});
        r.release();
      }
    },
  };
}

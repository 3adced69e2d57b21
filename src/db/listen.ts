/**
 * LISTEN on a Postgres channel through whatever driver sits under a Drizzle database. A wake-up only:
 * notifications are lost while the listening connection is down, so callers also poll, and are told
 * (`onReconnect`) each time listening starts again — the database answers again, and anything notified
 * meanwhile is worth a look.
 */
import { clientOf, driverOf } from './driver.js';
import type { OutboxDb } from './types.js';

export interface ListenHandlers {
  onNotify(): void;
  /** Listening resumed after the connection was lost (not called for the first start). */
  onReconnect?(): void;
  /** The listening connection was lost (it is being re-established). */
  onLost?(error: unknown): void;
}

/** While the listening connection is down, try again this often, ms: also how soon "the database is back" is noticed. */
const RELISTEN_MS = 1000;

/**
 * Starts listening; resolves with a stop function once the first LISTEN is in place (rejects if that
 * fails), or with undefined when the driver cannot listen.
 */
export async function listen(db: OutboxDb, channel: string, handlers: ListenHandlers): Promise<(() => Promise<void>) | undefined> {
  switch (driverOf(db)) {
    case 'node-postgres':
      return listenNodePostgres(db, channel, handlers);
    case 'postgres-js':
      return listenPostgresJs(db, channel, handlers);
    case 'pglite': {
      const client = clientOf(db) as { listen(channel: string, fn: () => void): Promise<() => Promise<void>> };
      const unlisten = await client.listen(channel, () => handlers.onNotify());
      return async () => void (await unlisten());
    }
    default:
      return undefined;
  }
}

async function listenPostgresJs(db: OutboxDb, channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
  const client = clientOf(db) as { listen(channel: string, fn: () => void, onlisten?: () => void): Promise<{ unlisten(): Promise<void> }> };
  let started = false;
  // postgres.js reconnects its listening connection by itself and calls onlisten after each LISTEN.
  const handle = await client.listen(channel, () => handlers.onNotify(), () => {
    if (started) handlers.onReconnect?.();
    started = true;
  });
  return () => handle.unlisten();
}

/** node-postgres: a dedicated Client (not from the pool: it lives as long as the listener), re-connected when lost. */
async function listenNodePostgres(db: OutboxDb, channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
  const pool = clientOf(db) as { options?: Record<string, unknown>; connectionParameters?: Record<string, unknown> };
  const { default: pg } = await import('pg');
  const options = (pool.options ?? {}) as import('pg').ClientConfig;
  let client: import('pg').Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function open(): Promise<void> {
    const c = new pg.Client(options);
    // Without an 'error' listener a lost connection's error event ends the process.
    c.on('error', () => {});
    c.on('notification', (n) => {
      if (n.channel === channel) handlers.onNotify();
    });
    try {
      await c.connect();
      await c.query(`listen "${channel.replace(/"/g, '""')}"`);
    } catch (error) {
      c.end().catch(() => {});
      throw error;
    }
    c.once('end', () => {
      if (client !== c || stopped) return;
      client = undefined;
      handlers.onLost?.(new Error('the listening connection ended'));
      schedule();
    });
    client = c;
  }

  function schedule(): void {
    timer = setTimeout(() => {
      if (stopped) return;
      open().then(
        () => handlers.onReconnect?.(),
        () => schedule(),
      );
    }, RELISTEN_MS);
    timer.unref();
  }

  await open();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
}

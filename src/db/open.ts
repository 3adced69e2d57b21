import { mkdirSync } from 'node:fs';
import type { ResolvedConfig } from '../config/resolve.js';
import { OutboxError } from '../errors.js';
import { importOptional } from '../util/optional.js';
import { defaultLogger } from '../log/logger.js';
import { describeDbError } from './errors.js';
import type { OutboxDb } from './types.js';

export interface OpenOptions {
  /** Connections in the node-postgres pool; default 10. */
  poolSize?: number;
  /** Seconds to wait for a connection (a new one, or one of the pool's to become free); default (0): no limit. */
  connectTimeout?: number;
}

/** A database the CLI opened from the config, and how to close it. */
export interface OpenedDatabase {
  db: OutboxDb;
  kind: 'postgres' | 'pglite';
  /** Where it is, without credentials, for logs. */
  where: string;
  close(): Promise<void>;
}

/**
 * Opens the configured database: `DATABASE_URL` / `database.url` with node-postgres (`pg`), else the
 * embedded PGlite directory. Drivers are imported lazily so a postgres user never loads PGlite (an optional
 * peer dependency: not installed, it is an E_LOAD saying so).
 *
 * Why node-postgres and not postgres.js: postgres.js 3.4.9 throws an uncatchable TypeError (`nextWrite`)
 * when PostgreSQL restarts or a backend is terminated under load, and the process exits (measured: 5 of 5
 * restarts; upstream porsager/postgres#1154, #1208, fixes unreleased). node-postgres survives both, given
 * what is done here: every client has an 'error' listener for its whole life (a pool removes its own while
 * a client is checked out, and an unhandled 'error' event ends the process), and transactions go through
 * `runTransaction` (src/db/transaction.ts), which never leaks a client whose BEGIN failed.
 */
export async function openDatabase(config: ResolvedConfig, options: OpenOptions = {}): Promise<OpenedDatabase> {
  if ('url' in config.database) {
    const url = config.database.url;
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const logger = defaultLogger('database');
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      // connectTimeout: without one, getting a connection from a host that does not answer waits for the
      // operating system's TCP timeout (minutes), and from a pool whose connections are all taken, forever.
      // A one-shot command should say so instead; the consumer bounds each of its own calls. The relay keeps
      // node-postgres's default and retries.
      connectionTimeoutMillis: (options.connectTimeout ?? 0) * 1000,
      // A server that vanished without closing the socket is noticed by TCP keep-alive, not never.
      keepAlive: true,
    });
    // An idle client's error reaches the pool; a checked-out one's only the client: both must be heard.
    pool.on('error', (error) => logger.debug(`an idle database connection failed (${describeDbError(error)})`));
    pool.on('connect', (client) => {
      client.on('error', (error) => logger.debug(`a database connection failed (${describeDbError(error)})`));
    });
    const db = drizzle({ client: pool }) as unknown as OutboxDb;
    return { db, kind: 'postgres', where: redactUrl(url), close: () => pool.end() };
  }
  const dir = config.database.pglite;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new OutboxError('E_DATABASE', `cannot create the PGlite directory ${dir}`, { cause });
  }
  const { PGlite } = await importOptional('@electric-sql/pglite', 'the embedded database (no DATABASE_URL or database.url is set)', () => import('@electric-sql/pglite'));
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = new PGlite(dir);
  const db = drizzle({ client }) as unknown as OutboxDb;
  return { db, kind: 'pglite', where: `pglite:${dir}`, close: () => client.close() };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}

import { mkdirSync } from 'node:fs';
import type { ResolvedConfig } from '../config/resolve.js';
import { OutboxError } from '../errors.js';
import type { OutboxDb } from './types.js';

/** A database the CLI opened from the config, and how to close it. */
export interface OpenedDatabase {
  db: OutboxDb;
  kind: 'postgres' | 'pglite';
  /** Where it is, without credentials, for logs. */
  where: string;
  close(): Promise<void>;
}

/**
 * Opens the configured database: `DATABASE_URL` / `database.url` with postgres.js, else the
 * embedded PGlite directory. Drivers are imported lazily so a postgres user never loads PGlite.
 */
export async function openDatabase(config: ResolvedConfig): Promise<OpenedDatabase> {
  if ('url' in config.database) {
    const url = config.database.url;
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const client = postgres(url, { max: 10, onnotice: () => {} });
    const db = drizzle({ client }) as unknown as OutboxDb;
    return { db, kind: 'postgres', where: redactUrl(url), close: () => client.end({ timeout: 5 }) };
  }
  const dir = config.database.pglite;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new OutboxError('E_DATABASE', `cannot create the PGlite directory ${dir}`, { cause });
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = new PGlite(dir);
  const db = drizzle({ client }) as unknown as OutboxDb;
  return { db, kind: 'pglite', where: `pglite:${dir}`, close: () => client.close() };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}

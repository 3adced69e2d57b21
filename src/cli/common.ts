import type { ArgsDef } from 'citty';
import { loadConfig } from '../config/load.js';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { OutboxConfig } from '../config/types.js';
import { explainDbError } from '../db/errors.js';
import { openDatabase, type OpenedDatabase } from '../db/open.js';
import { OutboxError } from '../errors.js';

/** Arguments every command takes. */
export const commonArgs = {
  config: { type: 'string', description: 'Path to outbox.config.ts (default: ./outbox.config.{ts,mts,js,mjs})' },
} as const satisfies ArgsDef;

/** Loads and resolves the config a command was pointed at. */
export async function commandConfig(args: { config?: string }): Promise<{ path: string; raw: OutboxConfig; config: ResolvedConfig }> {
  const { path, config: raw } = await loadConfig(args.config);
  return { path, raw, config: resolveConfig(raw) };
}

/** How long a one-shot command waits for the database to accept a connection, seconds. */
const CONNECT_TIMEOUT = 10;

/**
 * Runs a one-shot command's database work (status, retry, failed, migrate) and closes the database. A
 * failure becomes one line naming the cause and the database (README "Error codes"): `E_CONFIG` when the
 * settings are wrong (no such database, login refused), else `E_DATABASE`.
 */
export async function withDatabase<T>(config: ResolvedConfig, work: (database: OpenedDatabase) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, { connectTimeout: CONNECT_TIMEOUT });
  try {
    return await work(database);
  } catch (error) {
    throw databaseFailure(error, database.where);
  } finally {
    await database.close().catch(() => {});
  }
}

/** A database error as the CLI reports it; our own errors other than E_DATABASE pass through. */
export function databaseFailure(error: unknown, where: string): unknown {
  if (error instanceof OutboxError && (error.code !== 'E_DATABASE' || error.cause === undefined)) return error;
  const problem = explainDbError(error);
  const prefix = error instanceof OutboxError && error.message.startsWith('migration failed') ? 'migration failed: ' : '';
  return new OutboxError(problem.setup ? 'E_CONFIG' : 'E_DATABASE', `${prefix}${problem.message} — ${where}`, { cause: error });
}

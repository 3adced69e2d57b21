import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';

/** Any Drizzle Postgres database: postgres.js, PGlite, node-postgres. */
export type OutboxDb = PgDatabase<PgQueryResultHKT, any, any>;

/** A Drizzle Postgres transaction handle (what `db.transaction(tx => …)` passes). */
export type OutboxTx = PgTransaction<PgQueryResultHKT, any, any>;

/** Rows of `db.execute()`: an array on postgres.js, `{ rows }` on PGlite and node-postgres. */
export function rowsOf<T = Record<string, unknown>>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

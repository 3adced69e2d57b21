import type { TableNames } from '../config/types.js';
import type { OutboxDb } from '../db/types.js';
import { createFailedStatements, type FailedFilter, type FailedRow } from './failed-sql.js';

export type { FailedFilter, FailedRow } from './failed-sql.js';

/** How many failed rows `outbox failed` counts exactly before it says "more than". */
const COUNT_LIMIT = 100_000;

/**
 * `outbox failed` without the CLI: the newest failed rows (of one destination, with these ids, written
 * since a time), newest first, with their attempts, last error and age, and how many match in all.
 *
 * @example
 * const { rows, total } = await listFailed(db, tables, { destination: '/queue/billing', limit: 20 });
 */
export async function listFailed(
  db: OutboxDb,
  tables: TableNames,
  options: FailedFilter & { limit?: number } = {},
): Promise<{ rows: FailedRow[]; total: number; totalIsLowerBound: boolean }> {
  const statements = createFailedStatements(db, tables);
  const rows = await statements.list(options, options.limit ?? 50);
  const counted = await statements.count(options, COUNT_LIMIT);
  return { rows, total: Math.min(counted, COUNT_LIMIT), totalIsLowerBound: counted > COUNT_LIMIT };
}

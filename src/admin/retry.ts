import { sql } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';

/**
 * Re-queues failed rows (optionally of one destination): pending, attempts 0, due now, then NOTIFY so
 * running relays pick them up at once. Returns how many rows were re-queued.
 */
export async function retryFailed(db: OutboxDb, tables: TableNames, options: { destination?: string } = {}): Promise<number> {
  const t = createOutboxTables(tables).published;
  const only = options.destination === undefined ? sql`` : sql` and ${t.destination} = ${options.destination}`;
  const requeued = rowsOf(
    await db.execute(sql`
      update ${t} set status = 'pending', attempts = 0, next_attempt_at = now()
      where ${t.status} = 'failed'${only}
      returning 1 as requeued`),
  ).length;
  // The insert trigger does not fire on UPDATE: wake the relays by hand.
  if (requeued > 0) await db.execute(sql`select pg_notify(${tables.published}, '')`);
  return requeued;
}

/**
 * The relay's two statements on the idle table (`outbox_published_idle`): list itself before it sleeps,
 * unlist when it is busy or stopping. The insert trigger NOTIFYs only while some listing has not expired
 * (drizzle/0003_notify_when_idle.sql). Expiry comes from the database clock (`now()`), as the trigger's does.
 */
import { sql } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import type { OutboxDb } from '../db/types.js';

/** Listings of relays that died are removed once they are this old (they stopped counting at expiry). */
const FORGET_AFTER = '1 hour';

export interface IdleStatements {
  /** Lists (or re-lists) the relay until `now() + seconds`. */
  list(relayId: string, seconds: number): Promise<void>;
  unlist(relayId: string): Promise<void>;
}

export function createIdleStatements(db: OutboxDb, tables: TableNames): IdleStatements {
  const t = createOutboxTables(tables).idle;
  return {
    async list(relayId, seconds) {
      // LIST: an upsert of this relay's row (one row per relay, so relays never wait on each other); the
      // CTE sweeps listings left by relays that died long ago, so the trigger's scan stays a few rows.
      await db.execute(sql`with gone as (delete from ${t} where ${t.expiresAt} < now() - ${FORGET_AFTER}::interval)
        insert into ${t} (${sql.identifier(t.relayId.name)}, ${sql.identifier(t.expiresAt.name)})
        values (${relayId}::uuid, now() + make_interval(secs => ${seconds}::float8))
        on conflict (${sql.identifier(t.relayId.name)}) do update set ${sql.identifier(t.expiresAt.name)} = excluded.${sql.identifier(t.expiresAt.name)}`);
    },
    async unlist(relayId) {
      // UNLIST: a delete, not an update to the past, so the table holds only relays that are asleep.
      await db.execute(sql`delete from ${t} where ${t.relayId} = ${relayId}::uuid`);
    },
  };
}

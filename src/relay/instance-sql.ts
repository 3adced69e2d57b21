/**
 * The statements on the relays table (`outbox_published_relays`): a relay registers itself, keeps its row
 * fresh, says its state, and finds relays whose session-level advisory lock is gone — dead — to take their
 * leased rows over. Times come from the database clock.
 */
import { sql } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';

export interface RelayRow {
  relayId: string;
  lockKey: number;
}

export type InstanceStatements = ReturnType<typeof createInstanceStatements>;

export function createInstanceStatements(db: OutboxDb, tables: TableNames, namespace: number) {
  const { published, relays: r } = createOutboxTables(tables);
  return {
    async register(relayId: string, lockKey: number, host: string, pid: number, state: string): Promise<void> {
      await db.execute(sql`insert into ${r} (relay_id, lock_key, host, pid, state) values (${relayId}::uuid, ${lockKey}, ${host}, ${pid}, ${state})
        on conflict (relay_id) do update set lock_key = excluded.lock_key, seen_at = now(), state = excluded.state, state_since = now()`);
    },
    /** False when the row is gone (another relay took this one for dead): register again. */
    async seen(relayId: string): Promise<boolean> {
      return rowsOf(await db.execute(sql`update ${r} set seen_at = now() where relay_id = ${relayId}::uuid returning 1 as found`)).length > 0;
    },
    async setState(relayId: string, state: string): Promise<void> {
      await db.execute(sql`update ${r} set state = ${state}, state_since = now(), seen_at = now() where relay_id = ${relayId}::uuid`);
    },
    async unregister(relayId: string): Promise<void> {
      await db.execute(sql`delete from ${r} where relay_id = ${relayId}::uuid`);
    },
    /** Relays (other than `relayId`) whose advisory lock no session of this database holds. */
    async lockless(relayId: string): Promise<RelayRow[]> {
      const rows = rowsOf<{ relay_id: string; lock_key: number }>(
        await db.execute(sql`select relay_id::text, lock_key from ${r}
          where relay_id <> ${relayId}::uuid and not exists (
            select 1 from pg_locks l
            where l.locktype = 'advisory' and l.granted and l.objsubid = 2
              and l.database = (select oid from pg_database where datname = current_database())
              and l.classid = ${namespace}::oid and l.objid = ${r.lockKey}::oid)`),
      );
      return rows.map((row) => ({ relayId: row.relay_id, lockKey: Number(row.lock_key) }));
    },
    /**
     * TAKE OVER a dead relay: its row goes, and the rows it had leased are due now instead of when their
     * lease ends. Only if its row is still the one seen dead (a relay that came back re-registered with a
     * fresh lock). Walks the pending index: O(pending rows), once per dead relay.
     */
    async takeOver(dead: RelayRow): Promise<number> {
      const rows = rowsOf(
        await db.execute(sql`with gone as (
            delete from ${r} where relay_id = ${dead.relayId}::uuid and lock_key = ${dead.lockKey} returning lock_key)
          update ${published} set next_attempt_at = now()
          where ${published.status} = 'pending' and ${published.owner} in (select lock_key from gone) and ${published.nextAttemptAt} > now()
          returning 1 as freed`),
      );
      return rows.length;
    },
  };
}

/**
 * Failed rows, read and re-queued through their partial index `(destination, seq) WHERE status = 'failed'`
 * (migration 0007): what `outbox failed` and `outbox retry` run. Neither ever scans the sent history.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';

/** Which failed rows: of one destination, with these ids, written since a time. All optional. */
export interface FailedFilter {
  destination?: string;
  ids?: string[];
  /** Written at or after: `{ seconds }` ago by the database clock, or an instant (ISO-8601). */
  since?: { seconds: number } | { at: string };
}

export interface FailedRow {
  id: string;
  seq: number;
  destination: string;
  attempts: number;
  lastError: string | null;
  /** When it was written (ISO-8601, UTC). */
  createdAt: string;
  /** Seconds since it was written. */
  age: number;
}

/** Where the last batch stopped, in the index's order. */
export interface FailedCursor {
  destination: string;
  seq: number;
}

export function createFailedStatements(db: OutboxDb, tables: TableNames) {
  const t = createOutboxTables(tables).published;
  const failed = sql`${t.status} = 'failed'`;

  function filter(f: FailedFilter): SQL {
    const parts: SQL[] = [failed];
    if (f.destination !== undefined) parts.push(sql`${t.destination} = ${f.destination}`);
    if (f.ids?.length) parts.push(sql`${t.id} = any(${`{${f.ids.join(',')}}`}::uuid[])`);
    if (f.since && 'seconds' in f.since) parts.push(sql`${t.createdAt} >= now() - make_interval(secs => ${f.since.seconds}::float8)`);
    if (f.since && 'at' in f.since) parts.push(sql`${t.createdAt} >= ${f.since.at}::timestamptz`);
    return sql.join(parts, sql` and `);
  }

  const columns = sql`${t.id}::text as id, ${t.seq} as seq, ${t.destination} as destination, ${t.attempts} as attempts,
    ${t.lastError} as last_error, to_char(${t.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
    extract(epoch from now() - ${t.createdAt})::float8 as age`;

  const toRow = (r: { id: string; seq: number; destination: string; attempts: number; last_error: string | null; created_at: string; age: number }): FailedRow => ({
    id: r.id,
    seq: Number(r.seq),
    destination: r.destination,
    attempts: Number(r.attempts),
    lastError: r.last_error,
    createdAt: r.created_at,
    age: Number(r.age),
  });

  return {
    /**
     * LIST: the newest `limit` failed rows matching `f`, newest first. Without a destination, the newest
     * `limit` of each destination (one index descent each, found by a loose index scan), merged: the cost
     * follows the destinations and the limit, not how many rows failed.
     */
    async list(f: FailedFilter, limit: number): Promise<FailedRow[]> {
      const query =
        f.destination !== undefined || f.ids?.length
          ? sql`select ${columns} from ${t} where ${filter(f)} order by ${t.destination}, ${t.seq} desc limit ${limit}`
          : sql`with recursive d(destination) as (
                (select ${t.destination} from ${t} where ${failed} order by ${t.destination} limit 1)
                union all
                select (select ${t.destination} from ${t} where ${failed} and ${t.destination} > d.destination order by ${t.destination} limit 1)
                from d where d.destination is not null)
              select x.* from d cross join lateral (
                select ${columns} from ${t} where ${filter({ ...f, destination: undefined })} and ${t.destination} = d.destination
                order by ${t.seq} desc limit ${limit}) as x
              where d.destination is not null order by x.seq desc limit ${limit}`;
      const rows = rowsOf<Parameters<typeof toRow>[0]>(await db.execute(query)).map(toRow);
      return rows.sort((a, b) => b.seq - a.seq);
    },

    /** COUNT the failed rows matching `f`, no further than `limit + 1`. */
    async count(f: FailedFilter, limit: number): Promise<number> {
      const [row] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from (select 1 from ${t} where ${filter(f)} limit ${limit + 1}) as c`));
      return Number(row?.n ?? 0);
    },

    /**
     * REQUEUE ONE BATCH: up to `limit` failed rows matching `f` after `cursor` (in the index's order) become
     * pending, attempts 0, due now. One short statement: a batch's locks and WAL, never the whole set's.
     * SKIP LOCKED: a row someone else is changing right now is left for the next run. Returns the rows
     * re-queued and where to go on from.
     */
    async requeue(f: FailedFilter, limit: number, cursor: FailedCursor | null): Promise<{ count: number; cursor: FailedCursor | null }> {
      const after = cursor ? sql` and (${t.destination}, ${t.seq}) > (${cursor.destination}, ${cursor.seq}::bigint)` : sql``;
      const [row] = rowsOf<{ n: number; destination: string | null; seq: number | null }>(
        await db.execute(sql`with picked as (
            select ${t.id} as id from ${t} where ${filter(f)}${after}
            order by ${t.destination}, ${t.seq} limit ${limit} for update skip locked),
          up as (
            update ${t} set status = 'pending', attempts = 0, next_attempt_at = now()
            from picked where ${t.id} = picked.id
            returning ${t.destination} as destination, ${t.seq} as seq),
          -- Where to go on from, in the index's order (the database's collation, not JavaScript's).
          last as (select destination, seq from up order by destination desc, seq desc limit 1)
          select (select count(*) from up)::int as n, (select destination from last) as destination, (select seq from last) as seq`),
      );
      const count = Number(row?.n ?? 0);
      if (count === 0 || row?.destination == null) return { count: 0, cursor };
      return { count, cursor: { destination: row.destination, seq: Number(row.seq) } };
    },

    /** Wakes running relays: the insert trigger does not fire on UPDATE. */
    async notify(): Promise<void> {
      await db.execute(sql`select pg_notify(${tables.published}, '')`);
    },
  };
}

/**
 * The statements behind `outbox status`. Each reads what an index gives cheaply, so the whole report costs
 * about the same on a table of a thousand rows or of ten million (scripts/bench/status.bench.ts): pending
 * rows through the claim's partial index, failed rows through theirs, and the sent history — almost all of
 * the table — never row by row: counted only while it is small, else the planner's estimate, said to be one.
 * Times come from the database clock.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';

/** What the pending rows of one destination look like (from the oldest pending rows, see `pendingScan`). */
export interface PendingGroup {
  destination: string;
  pending: number;
  /** Not due yet: leased by a relay, or waiting out a retry or a hold. */
  scheduled: number;
  /** Not due yet and carrying an error of their own (not a bystander's note). */
  retrying: number;
  /** Not due yet, leased last by a relay whose session is gone. */
  stale: number;
  oldestAge: number | null;
  /** The error of the destination's row due last among those with an error of their own: its latest failure. */
  currentError: string | null;
}

export interface FailedGroup {
  destination: string;
  /** Exact up to the limit given; limit + 1 means "more". */
  failed: number;
  /** The error of its most recently written failed row. */
  lastError: string | null;
}

export interface RelayRow {
  relayId: string;
  lockKey: number;
  host: string;
  pid: number;
  startedAt: string;
  /** Seconds since the relay last refreshed its row. */
  seenAgo: number;
  state: string;
  /** Seconds in its current state. */
  stateFor: number;
  /** Its session still holds its advisory lock: the process is alive. */
  alive: boolean;
  /** Listed in the idle table: asleep, waiting for a NOTIFY. */
  asleep: boolean;
}

/**
 * Messages the relay writes to `last_error` that are not a failure of the row itself: a bystander released
 * after another row's refusal (`released: …`, relay/attribute.ts) or a send left unconfirmed at shutdown
 * (relay/failures.ts). They never make a destination look refused.
 */
const NOTE = sql`(last_error like 'released:%' or last_error = 'relay stopped before the receipt')`;

/** An ordering key held behind a failure of its first unsent row. */
export interface HeldKeyRow {
  destination: string;
  key: string;
  /** The `key_seq` of the row that holds the key. */
  headSeq: number;
  /** That row is `failed` (`outbox retry` re-queues it); otherwise it waits out a backoff. */
  failed: boolean;
  lastError: string | null;
  /** Rows of the key waiting behind it. */
  waiting: number;
}

export function createStatusStatements(db: OutboxDb, tables: TableNames) {
  const { published: t, relays: r, idle: i } = createOutboxTables(tables);
  const one = async <T>(query: SQL) => rowsOf<T>(await db.execute(query))[0]!;

  return {
    /** Pending rows, counted through the claim's index, but no further than `limit + 1`. */
    async pendingCount(limit: number): Promise<number> {
      const row = await one<{ n: number }>(sql`select count(*)::int as n from (
        select 1 from ${t} where ${t.status} = 'pending' limit ${limit + 1}) as p`);
      return Number(row.n);
    },

    /**
     * The oldest `limit` pending rows (the claim's index, in its order), by destination. They hold everything
     * that is stuck: a refused destination's rows, stale leases, the oldest age; a backlog beyond the limit
     * is newer rows waiting their turn. `live`: lock keys of relays alive now (leases of others are stale).
     */
    async pendingScan(limit: number, live: number[]): Promise<PendingGroup[]> {
      const rows = rowsOf<{
        destination: string; pending: number; scheduled: number; retrying: number; stale: number; oldest: number | null; current_error: string | null;
      }>(
        await db.execute(sql`with p as (
            select ${t.destination} as destination, ${t.createdAt} as created_at, ${t.nextAttemptAt} as next_attempt_at,
              ${t.lastError} as last_error, ${t.owner} as owner
            from ${t} where ${t.status} = 'pending' order by ${t.seq} limit ${limit})
          select destination, count(*)::int as pending,
            count(*) filter (where next_attempt_at > now())::int as scheduled,
            count(*) filter (where next_attempt_at > now() and last_error is not null and not ${NOTE})::int as retrying,
            count(*) filter (where next_attempt_at > now() and owner is not null and owner <> all(${`{${live.join(',')}}`}::int[]))::int as stale,
            extract(epoch from now() - min(created_at))::float8 as oldest,
            (array_agg(last_error order by next_attempt_at desc) filter (where last_error is not null and not ${NOTE}))[1] as current_error
          from p group by destination order by destination`),
      );
      return rows.map((row) => ({
        destination: row.destination,
        pending: Number(row.pending),
        scheduled: Number(row.scheduled),
        retrying: Number(row.retrying),
        stale: Number(row.stale),
        oldestAge: row.oldest == null ? null : Number(row.oldest),
        currentError: row.current_error,
      }));
    },

    /**
     * Failed rows by destination through their partial index: the destinations one index descent each (a
     * loose index scan, at most `maxDestinations`), then per destination a count up to `limit + 1` and the
     * error of its newest failed row.
     */
    async failedByDestination(limit: number, maxDestinations: number): Promise<FailedGroup[]> {
      const failed = sql`${t.status} = 'failed'`;
      const rows = rowsOf<{ destination: string; failed: number; last_error: string | null }>(
        await db.execute(sql`with recursive d(destination, n) as (
            (select ${t.destination}, 1 from ${t} where ${failed} order by ${t.destination} limit 1)
            union all
            select (select ${t.destination} from ${t} where ${failed} and ${t.destination} > d.destination order by ${t.destination} limit 1), d.n + 1
            from d where d.destination is not null and d.n < ${maxDestinations})
          select d.destination,
            (select count(*) from (select 1 from ${t} where ${failed} and ${t.destination} = d.destination limit ${limit + 1}) as c)::int as failed,
            (select ${t.lastError} from ${t} where ${failed} and ${t.destination} = d.destination order by ${t.seq} desc limit 1) as last_error
          from d where d.destination is not null order by d.destination`),
      );
      return rows.map((row) => ({ destination: row.destination, failed: Number(row.failed), lastError: row.last_error }));
    },

    /**
     * Ordering keys held behind a failure: a key whose first unsent row is `failed`, or waiting out a backoff
     * after an error of its own; everything after it waits (README "Ordering"). The failed rows through their
     * index, the ones in backoff through the keyed pending index; per key, its rows waiting behind through the
     * head-of-key index. At most `maxKeys`, by destination and key.
     */
    async heldKeys(maxKeys: number, limit: number): Promise<HeldKeyRow[]> {
      const rows = rowsOf<{ destination: string; key: string; head: string | number; failed: boolean; last_error: string | null; waiting: number }>(
        await db.execute(sql`with x as (
            select ${t.destination} as destination, ${t.key} as key, ${t.keySeq} as key_seq, ${t.status} as status, ${t.lastError} as last_error
            from ${t} where ${t.status} = 'failed' and ${t.keySeq} is not null
            union all
            select ${t.destination}, ${t.key}, ${t.keySeq}, ${t.status}, ${t.lastError}
            from ${t} where ${t.status} = 'pending' and ${t.keySeq} is not null and ${t.nextAttemptAt} > now()
              and ${t.lastError} is not null and not ${NOTE}),
          held as (
            select destination, key, min(key_seq) as head, bool_or(status = 'failed') as failed,
              (array_agg(last_error order by key_seq))[1] as last_error
            from x group by destination, key order by destination, key limit ${maxKeys})
          select held.*, (select count(*) from (
              select 1 from ${t} w where w.status <> 'sent' and w.destination = held.destination and w.key = held.key and w.key_seq > held.head
              limit ${limit}) c)::int as waiting
          from held order by destination, key`),
      );
      return rows.map((row) => ({ destination: row.destination, key: row.key, headSeq: Number(row.head), failed: Boolean(row.failed), lastError: row.last_error, waiting: Number(row.waiting) }));
    },

    /** The planner's estimate of the rows with `status`, from the table's statistics: no row is read. */
    async estimate(status: 'pending' | 'sent' | 'failed'): Promise<number> {
      const row = await one<Record<string, unknown>>(sql`explain (format json) select 1 from ${t} where ${t.status} = ${sql.raw(`'${status}'`)}`);
      const plan = Object.values(row)[0];
      const parsed = (typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan: { 'Plan Rows': number } }>;
      return Math.round(parsed[0]!.Plan['Plan Rows']);
    },

    /** Sent rows, counted (the retention index); only called while the estimate is small. */
    async sentCount(): Promise<number> {
      return Number((await one<{ n: number }>(sql`select count(*)::int as n from ${t} where ${t.status} = 'sent'`)).n);
    },

    /** The relays registered now, whether each is alive (its session holds its lock) and asleep. */
    async relays(namespace: number): Promise<RelayRow[]> {
      const rows = rowsOf<{
        relay_id: string; lock_key: number; host: string; pid: number; started_at: string; seen_ago: number; state: string; state_for: number; alive: boolean; asleep: boolean;
      }>(
        await db.execute(sql`select ${r.relayId}::text as relay_id, ${r.lockKey} as lock_key, ${r.host} as host, ${r.pid} as pid,
            to_char(${r.startedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as started_at,
            extract(epoch from now() - ${r.seenAt})::float8 as seen_ago, ${r.state} as state,
            extract(epoch from now() - ${r.stateSince})::float8 as state_for,
            exists (select 1 from pg_locks l
              where l.locktype = 'advisory' and l.granted and l.objsubid = 2
                and l.database = (select oid from pg_database where datname = current_database())
                and l.classid = ${namespace}::oid and l.objid = ${r.lockKey}::oid) as alive,
            exists (select 1 from ${i} where ${i.relayId} = ${r.relayId} and ${i.expiresAt} > now()) as asleep
          from ${r} order by ${r.startedAt}, ${r.relayId}`),
      );
      return rows.map((row) => ({
        relayId: row.relay_id,
        lockKey: Number(row.lock_key),
        host: row.host,
        pid: Number(row.pid),
        startedAt: row.started_at,
        seenAgo: Number(row.seen_ago),
        state: row.state,
        stateFor: Number(row.state_for),
        alive: Boolean(row.alive),
        asleep: Boolean(row.asleep),
      }));
    },

    /** The database clock, as the report's time. */
    async now(): Promise<string> {
      return (await one<{ now: string }>(sql`select to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as now`)).now;
    },
  };
}

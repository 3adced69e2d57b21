/**
 * `outbox status` without the CLI: the outbox's state for an operator, so nobody needs SQL to see it.
 * It reads the table once; it is for people and monitoring probes, not for the hot path.
 */
import { sql } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';
import { retentionTask } from '../retention/retention.js';
import { createRetentionStatements } from '../retention/sql.js';

export interface DestinationStatus {
  destination: string;
  pending: number;
  /** Pending rows not due yet: leased by a relay right now, or waiting out a retry backoff. */
  scheduled: number;
  sent: number;
  failed: number;
  /** Seconds since the oldest pending row of this destination was written. */
  oldestPendingAge: number | null;
  /** The broker's or relay's words for the latest failure (failed rows first, else pending retries). */
  lastError: string | null;
}

export interface OutboxStatusReport {
  table: string;
  totals: { pending: number; scheduled: number; sent: number; failed: number };
  oldestPendingAge: number | null;
  destinations: DestinationStatus[];
  /** Last retention run per table, from the maintenance table; null if it never ran. */
  retention: Array<{ table: string; lastRunAt: string | null; ago: number | null }>;
}

export async function outboxStatus(db: OutboxDb, tables: TableNames): Promise<OutboxStatusReport> {
  const t = createOutboxTables(tables).published;
  const rows = rowsOf<{
    destination: string;
    pending: number;
    scheduled: number;
    sent: number;
    failed: number;
    oldest: number | null;
    last_error: string | null;
  }>(
    await db.execute(sql`
      select ${t.destination} as destination,
        count(*) filter (where ${t.status} = 'pending')::int as pending,
        count(*) filter (where ${t.status} = 'pending' and ${t.nextAttemptAt} > now())::int as scheduled,
        count(*) filter (where ${t.status} = 'sent')::int as sent,
        count(*) filter (where ${t.status} = 'failed')::int as failed,
        extract(epoch from now() - min(${t.createdAt}) filter (where ${t.status} = 'pending'))::float8 as oldest,
        (array_agg(${t.lastError} order by (${t.status} = 'failed') desc, ${t.seq} desc)
          filter (where ${t.lastError} is not null and ${t.status} <> 'sent'))[1] as last_error
      from ${t} group by ${t.destination} order by ${t.destination}`),
  );
  const destinations = rows.map((r) => ({
    destination: r.destination,
    pending: Number(r.pending),
    scheduled: Number(r.scheduled),
    sent: Number(r.sent),
    failed: Number(r.failed),
    oldestPendingAge: r.oldest == null ? null : Number(r.oldest),
    lastError: r.last_error,
  }));
  const sum = (key: 'pending' | 'scheduled' | 'sent' | 'failed') => destinations.reduce((n, d) => n + d[key], 0);
  const ages = destinations.map((d) => d.oldestPendingAge).filter((a): a is number => a !== null);
  const runs = await createRetentionStatements(db, tables).lastRuns();
  return {
    table: tables.published,
    totals: { pending: sum('pending'), scheduled: sum('scheduled'), sent: sum('sent'), failed: sum('failed') },
    oldestPendingAge: ages.length ? Math.max(...ages) : null,
    destinations,
    retention: [tables.published, tables.received].map((table) => {
      const run = runs.find((r) => r.task === retentionTask(table));
      return { table, lastRunAt: run ? run.lastRunAt.toISOString() : null, ago: run ? run.ago : null };
    }),
  };
}

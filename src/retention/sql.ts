/**
 * Retention statements. Deletes go in bounded batches (a short statement each, oldest first through the
 * `sent_at`/`received_at` indexes) so they never hold many locks or bloat one transaction, and they only
 * ever touch rows that are done with: `sent` outbox rows and inbox rows. Pending and failed rows are never
 * deleted. Times come from the database clock.
 */
import { sql } from 'drizzle-orm';
import type { TableNames } from '../config/types.js';
import { createOutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb } from '../db/types.js';

export type RetentionTarget = 'published' | 'received';

/** A claimed retention run: our mark and the one it replaced (timestamps as Postgres text, exact). */
export interface RunClaim {
  task: string;
  ours: string;
  previous: string | null;
}

export function createRetentionStatements(db: OutboxDb, tables: TableNames) {
  const { published, received, maintenance } = createOutboxTables(tables);

  return {
    /**
     * CLAIM A RUN: records "now" as the last run only if the previous one is older than the interval, in one
     * statement, so of several relays (or consumers) waking at once exactly one gets a row back and runs.
     * Returns the claim (our mark and the one it replaced, so `unclaimRun` can put it back), or undefined.
     */
    async claimRun(task: string, intervalSeconds: number): Promise<RunClaim | undefined> {
      const result = await db.execute(sql`
        with previous as (select last_run_at from ${maintenance} where task = ${task})
        insert into ${maintenance} (task, last_run_at) values (${task}, now())
        on conflict (task) do update set last_run_at = now()
          where ${maintenance}.last_run_at <= now() - make_interval(secs => ${intervalSeconds}::float8)
        returning task, last_run_at::text as ours, (select last_run_at::text from previous) as previous`);
      const [row] = rowsOf<{ task: string; ours: string; previous: string | null }>(result);
      return row ? { task, ours: row.ours, previous: row.previous } : undefined;
    },

    /**
     * UNCLAIM: a run that failed or was stopped before it finished puts the previous mark back (or removes
     * its own if there was none), so the next check retries instead of waiting a whole interval. Only if
     * the mark is still ours.
     */
    async unclaimRun(claim: RunClaim): Promise<void> {
      await db.execute(
        claim.previous === null
          ? sql`delete from ${maintenance} where task = ${claim.task} and last_run_at = ${claim.ours}::timestamptz`
          : sql`update ${maintenance} set last_run_at = ${claim.previous}::timestamptz
              where task = ${claim.task} and last_run_at = ${claim.ours}::timestamptz`,
      );
    },

    /**
     * DELETE ONE BATCH of expired rows, oldest first, starting at `from` (the oldest time the previous batch
     * deleted; null for the first): each batch begins where the last ended, so it does not walk the dead index
     * entries its predecessors left (that made a 1M-row cleanup cost 198 → 2,848 buffers a batch). Returns
     * how many went and the newest time among them, where the next batch starts (rows sharing it that did
     * not fit are found there).
     */
    async deleteBatch(target: RetentionTarget, days: number, limit: number, from: string | null): Promise<{ deleted: number; last: string | null }> {
      const age = sql`now() - make_interval(secs => ${days * 86_400}::float8)`;
      const start = from === null ? sql`'-infinity'::timestamptz` : sql`${from}::timestamptz`;
      const query =
        target === 'published'
          ? sql`with doomed as (
              select ${published.id} as id, ${published.sentAt} as at from ${published}
              where ${published.status} = 'sent' and ${published.sentAt} < ${age} and ${published.sentAt} >= ${start}
              order by ${published.sentAt} limit ${limit})
            , gone as (delete from ${published} using doomed where ${published.id} = doomed.id returning doomed.at)
            select count(*)::int as deleted, max(at)::text as last from gone`
          : // By the whole key: one id has a row per consumer queue, and those age apart.
            sql`with doomed as (
              select ${received.messageId} as id, ${received.queue} as q, ${received.receivedAt} as at from ${received}
              where ${received.receivedAt} < ${age} and ${received.receivedAt} >= ${start}
              order by ${received.receivedAt} limit ${limit})
            , gone as (delete from ${received} using doomed where ${received.messageId} = doomed.id and ${received.queue} = doomed.q returning doomed.at)
            select count(*)::int as deleted, max(at)::text as last from gone`;
      const [row] = rowsOf<{ deleted: number; last: string | null }>(await db.execute(query));
      return { deleted: Number(row?.deleted ?? 0), last: row?.last ?? from };
    },

    /** Last run of every maintenance task (for `outbox status`). */
    async lastRuns(): Promise<Array<{ task: string; lastRunAt: Date; ago: number }>> {
      const rows = rowsOf<{ task: string; last_run_at: string | Date; ago: number }>(
        await db.execute(sql`select task, last_run_at, extract(epoch from now() - last_run_at)::float8 as ago
          from ${maintenance} order by task`),
      );
      return rows.map((r) => ({ task: r.task, lastRunAt: new Date(r.last_run_at), ago: Number(r.ago) }));
    },
  };
}

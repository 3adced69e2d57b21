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

export function createRetentionStatements(db: OutboxDb, tables: TableNames) {
  const { published, received, maintenance } = createOutboxTables(tables);

  return {
    /**
     * CLAIM A RUN: records "now" as the last run only if the previous one is older than the interval, in one
     * statement, so of several relays (or consumers) waking at once exactly one gets a row back and runs.
     */
    async claimRun(task: string, intervalSeconds: number): Promise<boolean> {
      const result = await db.execute(sql`
        insert into ${maintenance} (task, last_run_at) values (${task}, now())
        on conflict (task) do update set last_run_at = now()
          where ${maintenance}.last_run_at <= now() - make_interval(secs => ${intervalSeconds}::float8)
        returning task`);
      return rowsOf(result).length > 0;
    },

    /** DELETE ONE BATCH of expired rows; returns how many went. */
    async deleteBatch(target: RetentionTarget, days: number, limit: number): Promise<number> {
      const age = sql`now() - make_interval(secs => ${days * 86_400}::float8)`;
      const query =
        target === 'published'
          ? sql`delete from ${published} where ${published.id} in (
              select ${published.id} from ${published}
              where ${published.status} = 'sent' and ${published.sentAt} < ${age}
              order by ${published.sentAt} limit ${limit})
            returning 1 as gone`
          : // By the whole key: one id has a row per consumer queue, and those age apart.
            sql`delete from ${received} where (${received.messageId}, ${received.queue}) in (
              select ${received.messageId}, ${received.queue} from ${received}
              where ${received.receivedAt} < ${age}
              order by ${received.receivedAt} limit ${limit})
            returning 1 as gone`;
      return rowsOf(await db.execute(query)).length;
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

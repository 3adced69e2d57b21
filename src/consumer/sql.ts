/**
 * The inbox statements. The inbox is `outbox_received` (name configurable), keyed by `message_id`.
 */
import { eq, getTableName, sql } from 'drizzle-orm';
import type { OutboxTables } from '../db/tables.js';
import type { OutboxDb, OutboxTx } from '../db/types.js';

export interface InboxRow {
  messageId: string;
  destination: string;
  /** Parsed JSON, or the raw text (stored as a JSON string). */
  body: unknown;
  headers: Record<string, string>;
}

export interface InboxStatements {
  /**
   * Is the id already recorded (committed)? One primary-key lookup before running a handler, so a plain
   * redelivery costs no handler call. Only a shortcut: correctness rests on `insertReceived`.
   */
  isRecorded(messageId: string): Promise<boolean>;
  /**
   * Records the id inside the handler's transaction. `ON CONFLICT DO NOTHING … RETURNING`: a row back means
   * this transaction owns the id; none means another one committed it first. A concurrent uncommitted insert
   * of the same id makes this one wait on the unique index until that transaction ends, so two concurrent
   * deliveries can never both get a row back (no exists-then-insert race).
   */
  insertReceived(tx: OutboxTx, row: InboxRow): Promise<boolean>;
}

export function inboxStatements(db: OutboxDb, tables: OutboxTables): InboxStatements {
  const received = tables.received;
  // Prepared once: the lookup runs for every message.
  const recorded = db
    .select({ one: sql<number>`1` })
    .from(received)
    .where(eq(received.messageId, sql.placeholder('id')))
    .limit(1)
    .prepare(`${getTableName(received)}_is_recorded`);

  return {
    async isRecorded(messageId) {
      const rows = await recorded.execute({ id: messageId });
      return rows.length > 0;
    },
    async insertReceived(tx, row) {
      const rows = await tx
        .insert(received)
        .values({ messageId: row.messageId, destination: row.destination, body: row.body, headers: row.headers })
        .onConflictDoNothing()
        .returning({ messageId: received.messageId });
      return rows.length > 0;
    },
  };
}

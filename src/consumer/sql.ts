/**
 * The inbox statements. The inbox is `outbox_received` (name configurable), keyed by `(message_id, queue)`:
 * the dedup scope is the consumer's queue. Consumers of different queues bound to one topic each handle
 * a message once; competing consumers of one queue are one logical consumer and share the scope.
 * Rows with queue '' were recorded before the inbox had scopes; they count for every queue.
 */
import { and, eq, getTableName, inArray, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { preparedStatement, type PreparedStatement } from '../db/prepared.js';
import type { TransactionState } from '../db/transaction.js';
import type { OutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxDb, type OutboxTx } from '../db/types.js';

export interface InboxRow {
  messageId: string;
  destination: string;
  /** Parsed JSON, or the raw text (stored as a JSON string). */
  body: unknown;
  headers: Record<string, string>;
}

/** Statements bound to one consumer's queue (its dedup scope). */
export interface InboxStatements {
  /** The dedup scope these statements read and write. */
  readonly queue: string;
  /**
   * Is the id already recorded (committed) for this queue, or before queues scoped the inbox? One
   * primary-key probe before running a handler, so a plain redelivery costs no handler call. Only a
   * shortcut: correctness rests on `insertReceived`.
   */
  isRecorded(messageId: string): Promise<boolean>;
  /**
   * Did this queue's row for the id commit? Checked after a handler that saved returns: save() only
   * proves an insert ran, and a handler may have swallowed its own rollback.
   */
  isCommitted(messageId: string): Promise<boolean>;
  /**
   * Records the id for this queue inside the handler's transaction. `ON CONFLICT (message_id, queue) DO
   * NOTHING … RETURNING`: a row back means this transaction owns the id; none means another one committed
   * it first. A concurrent uncommitted insert of the same key makes this one wait on the primary key until
   * that transaction ends, so two concurrent deliveries can never both get a row back (no
   * exists-then-insert race).
   */
  insertReceived(tx: OutboxTx, row: InboxRow): Promise<boolean>;
  /**
   * The same insert, made first in a transaction the consumer opened (the `(payload, { tx })` form), so it is
   * also the dedup check: no row back means a committed row, of this queue or from before queues scoped the
   * inbox, already holds the id — the handler need not run. One statement where a lookup and an insert were two.
   */
  claimReceived(tx: OutboxTx, row: InboxRow, prepared?: TransactionState['prepared']): Promise<boolean>;
  /** That claim as its prepared statement and values: to send with the COMMIT before it (chain.ts). */
  claimOf(row: InboxRow): { statement: PreparedStatement; values: unknown[] };
  /**
   * The committed rows of many ids at once, under this queue or '': one statement for the reads of every
   * message in flight (inbox-lookup.ts). Each id leads the key: one index descent per id.
   */
  findReceived(messageIds: string[]): Promise<Array<{ messageId: string; queue: string }>>;
}

export function inboxStatements(db: OutboxDb, tables: OutboxTables, queue: string): InboxStatements {
  const received = tables.received;
  const name = getTableName(received);
  // Prepared once: the lookup runs for every message. The id leads the key, so both queue values are
  // found in one index descent.
  const recorded = db
    .select({ one: sql<number>`1` })
    .from(received)
    .where(and(eq(received.messageId, sql.placeholder('id')), inArray(received.queue, [sql.placeholder('queue'), ''])))
    .limit(1)
    .prepare(`${name}_is_recorded`);
  const committed = db
    .select({ one: sql<number>`1` })
    .from(received)
    .where(and(eq(received.messageId, sql.placeholder('id')), eq(received.queue, sql.placeholder('queue'))))
    .prepare(`${name}_is_committed`);

  // The claim (claimReceived): `where not exists` reads the queue-less row in the statement's snapshot: such
  // rows are from before an upgrade, long committed. The conflict on (message_id, queue) waits for a
  // concurrent delivery's transaction, as insertReceived's does.
  const table = new PgDialect().sqlToQuery(sql`${received}`).sql;
  const claim = preparedStatement(`
    insert into ${table} (message_id, queue, destination, body, headers)
    select $1, $2, $3, $4::jsonb, $5::jsonb
    where not exists (select 1 from ${table} where message_id = $1 and queue = '')
    on conflict (message_id, queue) do nothing
    returning 1`);

  const claimValues = (row: InboxRow): unknown[] =>
    [row.messageId, queue, row.destination, row.body == null ? null : JSON.stringify(row.body), JSON.stringify(row.headers)];

  return {
    queue,
    async isRecorded(messageId) {
      return (await recorded.execute({ id: messageId, queue })).length > 0;
    },
    async isCommitted(messageId) {
      return (await committed.execute({ id: messageId, queue })).length > 0;
    },
    async findReceived(messageIds) {
      return db
        .select({ messageId: received.messageId, queue: received.queue })
        .from(received)
        .where(and(inArray(received.messageId, messageIds), inArray(received.queue, [queue, ''])));
    },
    async insertReceived(tx, row) {
      const rows = await tx
        .insert(received)
        .values({ messageId: row.messageId, queue, destination: row.destination, body: row.body, headers: row.headers })
        .onConflictDoNothing({ target: [received.messageId, received.queue] })
        .returning({ messageId: received.messageId });
      return rows.length > 0;
    },
    claimOf(row) {
      return { statement: claim, values: claimValues(row) };
    },
    async claimReceived(tx, row, prepared) {
      const values = claimValues(row);
      // Prepared where the driver allows: it runs for every message, and planning an INSERT … SELECT took
      // PostgreSQL about as long as running it (measured: scripts/bench/README.md, Consumer).
      if (prepared) return (await prepared(claim, values)).length > 0;
      const [id, , destination, body, headers] = values;
      return rowsOf(await tx.execute(sql`
        insert into ${received} (message_id, queue, destination, body, headers)
        select ${id}, ${queue}, ${destination}, ${body}::jsonb, ${headers}::jsonb
        where not exists (select 1 from ${received} where message_id = ${id} and queue = '')
        on conflict (message_id, queue) do nothing
        returning 1`)).length > 0;
    },
  };
}

import { randomUUID } from 'node:crypto';
import { is, sql, type SQL } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import { outboxPublished, type OutboxTables } from '../db/tables.js';
import type { OutboxTx } from '../db/types.js';
import { OutboxError } from '../errors.js';
import { activeTraceHeaders } from '../telemetry/trace.js';
import { toJsonBody } from '../wire/body.js';
import { correlationIdOrNew } from './correlation.js';
import { outboxHeaders, type HeadersHook } from './headers.js';

/** Where outbox rows go and which extra headers they get: what the generated code binds from the config. */
export interface OutboxTarget {
  /** The `outbox_published` table (default names unless the config renames it). */
  table?: OutboxTables['published'];
  /** The config's `headers(row)` hook. */
  headers?: HeadersHook;
}

/** One event to write. */
export interface OutboxDraft {
  /** The final destination (version suffix already applied). */
  destination: string;
  body: unknown;
  headers?: Record<string, string | undefined>;
  /** Names the source in error messages, e.g. `model order, /topic/orders`. */
  context?: string;
}

// 4 parameters a row; Postgres allows 65535 per statement.
const ROWS_PER_STATEMENT = 5000;

/**
 * Refuses anything but a Drizzle transaction: given the root `db`, an event would commit on its own,
 * apart from the business rows it describes. `is()` checks Drizzle's entity kind, so it holds across
 * module copies, unlike `instanceof`.
 */
export function assertTransaction(tx: unknown, caller: string | (() => string)): asserts tx is OutboxTx {
  if (!is(tx, PgTransaction)) {
    throw new OutboxError(
      'E_NOT_TRANSACTION',
      `${typeof caller === 'string' ? caller : caller()} needs the transaction handle of db.transaction(async (tx) => …), not the database itself: ` +
        'an event must commit with its business rows or not at all',
    );
  }
}

/**
 * Writes outbox rows inside `tx`, one multi-row INSERT for all drafts, in the drafts' order (the `seq`
 * identity follows the VALUES order, and the relay sends by `seq`). Ids and headers are fixed here,
 * once. Returns the rows' ids (their `dop-msg-id`s). A body that is not JSON throws before anything is
 * written; the caller's transaction then rolls back.
 */
export async function writeOutbox(tx: OutboxTx, drafts: readonly OutboxDraft[], target: OutboxTarget = {}): Promise<string[]> {
  if (drafts.length === 0) return [];
  const sentTime = new Date().toISOString();
  const correlationId = correlationIdOrNew();
  // The caller's active span, if any, so the relay and the consumer continue its trace.
  const trace = activeTraceHeaders();
  const ids: string[] = [];
  const rows = drafts.map((draft) => {
    const id = randomUUID();
    ids.push(id);
    const body = toJsonBody(draft.body, draft.context ?? draft.destination);
    const headers = outboxHeaders({ id, destination: draft.destination, body }, sentTime, correlationId, target.headers, draft.headers, trace);
    // Stringified here, as Drizzle's jsonb column would: the driver passes the text to the jsonb parameter.
    return sql`(${id}, ${draft.destination}, ${JSON.stringify(body)}, ${JSON.stringify(headers)})`;
  });
  const prefix = insertPrefix(target.table ?? outboxPublished);
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    await tx.execute(sql`${prefix}${sql.join(rows.slice(i, i + ROWS_PER_STATEMENT), sql`, `)}`);
  }
  return ids;
}

const prefixes = new WeakMap<object, SQL>();

/**
 * `insert into "outbox_published" ("id", "destination", "body", "headers") values `, once per table.
 * A plain SQL template rather than Drizzle's insert builder: the builder costs several times more CPU per
 * call than this statement's own work on the client, and this runs once per business transaction.
 */
function insertPrefix(table: OutboxTables['published']): SQL {
  let prefix = prefixes.get(table);
  if (!prefix) {
    const column = (c: { name: string }) => sql.identifier(c.name);
    prefix = sql`insert into ${table} (${column(table.id)}, ${column(table.destination)}, ${column(table.body)}, ${column(table.headers)}) values `;
    prefixes.set(table, prefix);
  }
  return prefix;
}

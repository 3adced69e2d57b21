import { randomUUID } from 'node:crypto';
import { is, sql, type SQL } from 'drizzle-orm';
import { getTableConfig, PgTransaction } from 'drizzle-orm/pg-core';
import { outboxPublished, type OutboxTables } from '../db/tables.js';
import { rowsOf, type OutboxTx } from '../db/types.js';
import { OutboxError } from '../errors.js';
import { activeTraceHeaders } from '../telemetry/trace.js';
import { toJsonBody } from '../wire/body.js';
import { KEY, KEY_SEQ } from '../wire/headers.js';
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
  /**
   * The ordering key: rows of one destination and key are sent in the order they were committed, one after
   * the other (README "Ordering"). Undefined: unordered, sent as fast as they come.
   */
  key?: string;
}

// 4 parameters a row (6 with a key); Postgres allows 65535 per statement.
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
  const table = target.table ?? outboxPublished;
  const prepared = drafts.map((draft) => {
    const id = randomUUID();
    ids.push(id);
    const body = toJsonBody(draft.body, draft.context ?? draft.destination);
    const headers = outboxHeaders({ id, destination: draft.destination, body }, sentTime, correlationId, target.headers, draft.headers, trace);
    if (draft.key !== undefined) checkKey(draft.key, draft.context ?? draft.destination);
    return { id, body, headers, draft };
  });
  // Positions within each key, taken (and the keys locked) before the rows get their `seq`.
  const keySeqs = prepared.some((p) => p.draft.key !== undefined) ? await takeKeySeqs(tx, table, prepared.map((p) => p.draft)) : undefined;
  const rows = prepared.map(({ id, body, headers, draft }, i) => {
    // Stringified here, as Drizzle's jsonb column would: the driver passes the text to the jsonb parameter.
    if (!keySeqs) return sql`(${id}, ${draft.destination}, ${JSON.stringify(body)}, ${JSON.stringify(headers)})`;
    const keySeq = keySeqs[i];
    if (keySeq !== undefined) Object.assign(headers, { [KEY]: draft.key!, [KEY_SEQ]: String(keySeq) });
    return sql`(${id}, ${draft.destination}, ${JSON.stringify(body)}, ${JSON.stringify(headers)}, ${draft.key ?? null}, ${keySeq ?? null}::bigint)`;
  });
  const prefix = keySeqs ? keyedInsertPrefix(table) : insertPrefix(table);
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    await tx.execute(sql`${prefix}${sql.join(rows.slice(i, i + ROWS_PER_STATEMENT), sql`, `)}`);
  }
  return ids;
}

/** A key is a non-empty string without NUL: it travels as a STOMP header value. */
function checkKey(key: unknown, context: string): void {
  if (typeof key !== 'string' || key === '' || key.includes('\u0000')) {
    throw new OutboxError('E_INVALID_HEADER', `the ordering key (sent as the outbox-key header) must be a non-empty string without NUL, got ${typeof key === 'string' ? JSON.stringify(key) : typeof key} (${context})`);
  }
}

/**
 * For each keyed draft, its `key_seq`: one upsert per statement takes, for every (destination, key) of the
 * drafts, as many numbers as it has drafts. The upsert leaves the counter rows locked until this transaction
 * ends, so another writer of the same key waits until this one commits or rolls back: a key's rows commit in
 * `key_seq` order (test/ordering/commit-order.test.ts). Keys are locked in sorted order, so two writers of the
 * same keys cannot deadlock on them. A rollback gives its numbers back with the counter's row version.
 */
async function takeKeySeqs(tx: OutboxTx, table: OutboxTables['published'], drafts: readonly OutboxDraft[]): Promise<Array<number | undefined>> {
  const counts = new Map<string, { destination: string; key: string; n: number }>();
  const slot = (destination: string, key: string) => JSON.stringify([destination, key]);
  for (const d of drafts) {
    if (d.key === undefined) continue;
    const s = slot(d.destination, d.key);
    const entry = counts.get(s) ?? { destination: d.destination, key: d.key, n: 0 };
    entry.n++;
    counts.set(s, entry);
  }
  const groups = [...counts.values()].sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const keys = sql.identifier(`${tableName(table)}_keys`);
  const values = sql.join(groups.map((g) => sql`(${g.destination}, ${g.key}, ${g.n}::bigint)`), sql`, `);
  const result = await tx.execute(sql`insert into ${keys} as k ("destination", "key", "last_seq") values ${values}
    on conflict ("destination", "key") do update set "last_seq" = k."last_seq" + excluded."last_seq"
    returning "destination", "key", "last_seq"`);
  const last = new Map<string, number>();
  for (const r of rowsOf<{ destination: string; key: string; last_seq: string | number }>(result)) last.set(slot(r.destination, r.key), Number(r.last_seq));
  // The group's numbers are last − n + 1 … last, handed out in draft order.
  const next = new Map<string, number>();
  for (const g of groups) {
    const s = slot(g.destination, g.key);
    next.set(s, last.get(s)! - g.n + 1);
  }
  return drafts.map((d) => {
    if (d.key === undefined) return undefined;
    const s = slot(d.destination, d.key);
    const n = next.get(s)!;
    next.set(s, n + 1);
    return n;
  });
}

const prefixes = new WeakMap<object, SQL>();
const keyedPrefixes = new WeakMap<object, SQL>();

function tableName(table: OutboxTables['published']): string {
  return getTableConfig(table).name;
}

/** As insertPrefix, with the key columns: only statements that write a keyed row pay for them. */
function keyedInsertPrefix(table: OutboxTables['published']): SQL {
  let prefix = keyedPrefixes.get(table);
  if (!prefix) {
    const column = (c: { name: string }) => sql.identifier(c.name);
    prefix = sql`insert into ${table} (${column(table.id)}, ${column(table.destination)}, ${column(table.body)}, ${column(table.headers)}, ${column(table.key)}, ${column(table.keySeq)}) values `;
    keyedPrefixes.set(table, prefix);
  }
  return prefix;
}

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

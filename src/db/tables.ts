import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { defaults } from '../config/defaults.js';
import type { TableNames } from '../config/types.js';

export type OutboxStatus = 'pending' | 'sent' | 'failed';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * The library's tables, for any table names. `outbox generate` emits the same columns as text for the
 * user's schema; a test keeps the two in step.
 */
export function createOutboxTables(names: TableNames = defaults.tables) {
  const published = pgTable(
    names.published,
    {
      // Creation order. now() is one value for a whole transaction, so it cannot order the rows a
      // transaction writes; an identity column can, and it is what the claim orders by.
      seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
      // The dop-msg-id: stable across resends, the consumer's dedup key.
      id: uuid('id').primaryKey().defaultRandom(),
      destination: text('destination').notNull(),
      body: jsonb('body').notNull(),
      // Exactly the headers sent, computed once at insert.
      headers: jsonb('headers').$type<Record<string, string>>().notNull(),
      status: text('status').$type<OutboxStatus>().notNull().default('pending'),
      // Claims so far; a claim counts as an attempt, so a row that crashes relays still ends `failed`.
      attempts: integer('attempts').notNull().default(0),
      // When the row may next be claimed: pushed forward by a claim (the lease) and by a failure (the backoff).
      nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
      lastError: text('last_error'),
      createdAt: timestamptz('created_at').notNull().defaultNow(),
      sentAt: timestamptz('sent_at'),
      // The lock key of the relay that claimed the row last (see the relays table): when that relay's
      // session is gone, another relay makes the row due at once instead of after its lease.
      owner: integer('owner'),
      // The ordering key (README "Ordering"): rows of one destination and key are sent in `key_seq` order,
      // one after the other. Null for unordered rows, which the relay sends as they come.
      key: text('key'),
      // The row's position within its destination and key, from the keys table at write time: 1, 2, 3, …
      // with no gap, in commit order (the counter's row lock serialises the writers of one key).
      keySeq: bigint('key_seq', { mode: 'number' }),
    },
    (t) => [
      // The claim's index: it must match the claim's ORDER BY, and being partial it stays the size of the backlog.
      // next_attempt_at rides along so rows waiting out a backoff or a lease are skipped inside the index,
      // without a heap visit each (100k such rows ahead of the due ones: 8 ms claims → 2.8 ms). Keyed rows are in
      // it too; the unordered claim leaves them (`key_seq is null`) to the keyed one, mostly inside the index, as
      // they are leased or parked (not due) nearly all the time. Adding key_seq to it made the planner prefer a
      // sequential scan for the claim (test/relay/claim-plan.test.ts) and cost 7% of unordered throughput.
      index(`${names.published}_pending_seq_idx`).on(t.seq, t.nextAttemptAt).where(sql`status = 'pending'`),
      // The keyed claim's walk: pending keyed rows in creation order, so it never steps over unordered ones.
      index(`${names.published}_key_pending_idx`).on(t.seq, t.nextAttemptAt).where(sql`status = 'pending' and key_seq is not null`),
      // The head of a key: its first row not yet sent. One descent answers "is anything of this key before
      // this row still unsent?" and finds the run of rows that follows a head, whatever the backlog.
      index(`${names.published}_key_head_idx`).on(t.destination, t.key, t.keySeq).where(sql`status <> 'sent'`),
      // Retention deletes old sent rows oldest first without scanning the rest.
      index(`${names.published}_sent_at_idx`).on(t.sentAt).where(sql`status = 'sent'`),
      // Failed rows, for `outbox status`, `outbox failed` and `outbox retry`: without it each of them scans the
      // whole table for what is usually a handful of rows (10M rows: a count of the failed ones took
      // seconds; with it, milliseconds — scripts/bench/status.bench.ts). Per destination, in creation order.
      index(`${names.published}_failed_idx`).on(t.destination, t.seq).where(sql`status = 'failed'`),
      check(`${names.published}_status_check`, sql`status in ('pending', 'sent', 'failed')`),
    ],
  );

  const received = pgTable(
    names.received,
    {
      // The dedup key: cap-msg-id, else dop-msg-id, else message-id.
      messageId: text('message_id').notNull(),
      destination: text('destination').notNull(),
      // Parsed JSON, or the raw text as a JSON string when the body was not JSON.
      body: jsonb('body'),
      headers: jsonb('headers').$type<Record<string, string>>().notNull(),
      receivedAt: timestamptz('received_at').notNull().defaultNow(),
      // The consumer's queue: the dedup scope. Two consumers of one event (queues orders-email and
      // orders-stats) each handle it once; competing consumers of one queue share the scope. '' marks
      // rows recorded before the inbox had scopes (they count for every queue).
      queue: text('queue').notNull().default(''),
    },
    (t) => [
      // Unique per scope, so two concurrent deliveries race on the index, not on an exists-then-insert.
      // The id first: every lookup has it, and one descent finds its rows of this queue and of ''.
      primaryKey({ columns: [t.messageId, t.queue] }),
      index(`${names.received}_received_at_idx`).on(t.receivedAt),
    ],
  );

  const maintenance = pgTable(names.maintenance, {
    // e.g. `retention:outbox_published`
    task: text('task').primaryKey(),
    lastRunAt: timestamptz('last_run_at').notNull(),
  });

  // Relays asleep waiting for a NOTIFY. The insert trigger notifies only while a row here has not expired:
  // a NOTIFY serialises the commits of the producers that send it, and a busy relay does not need one.
  // UNLOGGED (a custom migration: drizzle cannot say it): no WAL for the relays' arm/disarm writes, and
  // emptied by a crash, when every relay was disconnected anyway. See README "How relays wake up".
  const idle = pgTable(names.idle, {
    // Random per relay run.
    relayId: uuid('relay_id').primaryKey(),
    // From the database clock. A relay that died keeps producers notifying only until then.
    expiresAt: timestamptz('expires_at').notNull(),
  });

  // The relays running now. Each holds a session-level advisory lock (key: a hash of the published table's
  // name, lock_key) for as long as its process lives; a row whose lock is gone is a relay that died.
  const relays = pgTable(names.relays, {
    relayId: uuid('relay_id').primaryKey(),
    lockKey: integer('lock_key').notNull(),
    host: text('host').notNull(),
    pid: integer('pid').notNull(),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    // Refreshed every few seconds while it runs.
    seenAt: timestamptz('seen_at').notNull().defaultNow(),
    // 'running', or 'blocked' while the broker confirms nothing (a resource alarm).
    state: text('state').notNull().default('running'),
    stateSince: timestamptz('state_since').notNull().defaultNow(),
  });

  // One counter per destination and key. A keyed write takes the next value with an upsert, which also
  // locks the counter's row until the writer commits: a second writer of the same key waits there, so the
  // key's rows commit in `key_seq` order and the relay never sees a later row before an earlier one.
  // Named after the published table (`<published>_keys`), like the migrations' other derived names.
  const keys = pgTable(
    `${names.published}_keys`,
    {
      destination: text('destination').notNull(),
      key: text('key').notNull(),
      lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
    },
    (t) => [primaryKey({ columns: [t.destination, t.key] })],
  );

  return { published, received, maintenance, idle, relays, keys };
}

export type OutboxTables = ReturnType<typeof createOutboxTables>;

const standard = createOutboxTables();
/** The default-named tables: `outbox_published`, `outbox_received`, `outbox_maintenance`, `outbox_published_idle`. */
export const outboxPublished = standard.published;
export const outboxReceived = standard.received;
export const outboxMaintenance = standard.maintenance;
/** `outbox_published_idle`: relays asleep waiting for a NOTIFY (see README "How relays wake up"). */
export const outboxPublishedIdle = standard.idle;
/** `outbox_published_relays`: the relays running now. */
export const outboxPublishedRelays = standard.relays;
/** `outbox_published_keys`: the last `key_seq` given out per destination and key. */
export const outboxPublishedKeys = standard.keys;

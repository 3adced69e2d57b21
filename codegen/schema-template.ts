import type { TableNames } from '../src/config/types.js';
import { HEADER } from './header.js';

/**
 * `schema.ts`: the library's tables as Drizzle definitions, with the config's table names, for users
 * whose own drizzle-kit owns the migrations. Column for column what `createOutboxTables()` in
 * src/db/tables.ts builds (a test compares the two), written out so that drizzle-kit and readers see it.
 */
export function renderSchema(names: TableNames): string {
  const p = names.published;
  const r = names.received;
  const m = names.maintenance;
  const i = names.idle;
  const l = names.relays;
  return `${HEADER}
// The drizzle-outbox tables. Either \`outbox migrate\` owns them (its own migrations table, __outbox_migrations),
// or your drizzle-kit does (add this file to your drizzle config's \`schema\`) — never both: a table has one owner.
// drizzle-kit does not create the NOTIFY trigger that wakes relays at once: add outbox-trigger.sql as a custom
// migration (\`drizzle-kit generate --custom\`) after the one that creates these tables; without it relays
// still work, by polling.
import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Outgoing events: written in your transaction by the helpers and publish(), sent by \`outbox relay\`. */
export const outboxPublished = pgTable(
  '${p}',
  {
    // Creation order; the relay sends by it.
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    // The dop-msg-id: stable across resends, the consumer's dedup key.
    id: uuid('id').primaryKey().defaultRandom(),
    destination: text('destination').notNull(),
    body: jsonb('body').notNull(),
    // Exactly the headers sent, computed once at insert.
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    status: text('status').$type<'pending' | 'sent' | 'failed'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
    // The relay that claimed the row last: when it dies, another takes the row at once, not after the lease.
    owner: integer('owner'),
    // The ordering key (null: unordered) and the row's position within its destination and key.
    key: text('key'),
    keySeq: bigint('key_seq', { mode: 'number' }),
  },
  (t) => [
    // The relay's claim: partial, in the claim's order; next_attempt_at skips rows in backoff inside the index.
    index('${p}_pending_seq_idx').on(t.seq, t.nextAttemptAt).where(sql\`status = 'pending'\`),
    // The keyed claim's walk, and the head of each key (its first row not yet sent).
    index('${p}_key_pending_idx').on(t.seq, t.nextAttemptAt).where(sql\`status = 'pending' and key_seq is not null\`),
    index('${p}_key_head_idx').on(t.destination, t.key, t.keySeq).where(sql\`status <> 'sent'\`),
    // Retention: old sent rows, oldest first.
    index('${p}_sent_at_idx').on(t.sentAt).where(sql\`status = 'sent'\`),
    // Failed rows per destination, for outbox status, failed and retry.
    index('${p}_failed_idx').on(t.destination, t.seq).where(sql\`status = 'failed'\`),
    check('${p}_status_check', sql\`status in ('pending', 'sent', 'failed')\`),
  ],
);

/** The inbox: ids of messages already handled, per consumer queue, the consumer's dedup. */
export const outboxReceived = pgTable(
  '${r}',
  {
    messageId: text('message_id').notNull(),
    destination: text('destination').notNull(),
    body: jsonb('body'),
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    // The consumer's queue, the dedup scope: two consumers of one event each handle it once.
    queue: text('queue').notNull().default(''),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.queue] }), index('${r}_received_at_idx').on(t.receivedAt)],
);

/** Last run times of throttled maintenance (retention). */
export const outboxMaintenance = pgTable('${m}', {
  task: text('task').primaryKey(),
  lastRunAt: timestamp('last_run_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** Relays asleep waiting for a NOTIFY: the trigger in outbox-trigger.sql notifies only while one is listed. */
export const outboxPublishedIdle = pgTable('${i}', {
  relayId: uuid('relay_id').primaryKey(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** The last key_seq given out per destination and key; a keyed write locks its key's row until it commits. */
export const outboxPublishedKeys = pgTable(
  '${p}_keys',
  {
    destination: text('destination').notNull(),
    key: text('key').notNull(),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.destination, t.key] })],
);

/** The relays running now: \`outbox status\` shows them, and a relay takes a dead one's rows over at once. */
export const outboxPublishedRelays = pgTable('${l}', {
  relayId: uuid('relay_id').primaryKey(),
  lockKey: integer('lock_key').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  seenAt: timestamp('seen_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  state: text('state').notNull().default('running'),
  stateSince: timestamp('state_since', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
`;
}

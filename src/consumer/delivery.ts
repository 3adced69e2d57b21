/**
 * A delivery — one message on the connection that brought it — and the ways it is settled: exactly one ACK
 * or NACK, sent once the outcome is known, and reported to the dispatcher. Shared by both handler forms.
 */
import { describeDbError } from '../db/errors.js';
import type { OutboxDb } from '../db/types.js';
import { isOutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { StompMessage } from '../stomp/types.js';
import type { OutageLog } from '../util/outage.js';
import type { InboxLookup } from './inbox-lookup.js';
import { GAVE_UP, type InboxReader } from './inbox-read.js';
import type { PayloadState } from './payload.js';
import type { InboxStatements } from './sql.js';
import type { Handler, HandlerForm, Outcome } from './types.js';

export interface DeliveryContext {
  handler: Handler<any>;
  form: HandlerForm;
  /** Where the consumer opens `(payload, { tx })` handlers' transactions: the inbox's database. */
  db: OutboxDb;
  inbox: InboxStatements;
  /** The inbox reads around handlers, many messages to a statement. */
  lookup: InboxLookup;
  /** The consumer's own inbox reads: with a deadline, an outage waited out. */
  read: InboxReader;
  logger: Logger;
  /** The subscribed destination (used when a message has no `destination` header). */
  destination: string;
  /** Where NACKed messages end up, for the logs. */
  deadLetterQueue: string;
  /** Seconds, or null for no limit. */
  handlerTimeout: number | null;
  /** `database.maxBackoff`: the cap of the wait before a transaction that hit an outage is tried again. */
  maxBackoff: number;
  /** The outage log of the transactions the consumer opens for handlers. */
  transactions: OutageLog;
}

export interface Delivery {
  message: StompMessage;
  /** Sends ACK or NACK on the connection the message came on; false when that connection is gone. */
  settle(kind: 'ack' | 'nack'): boolean;
  /** Aborts when the message can no longer be settled (its connection closed) or shutdown gave up on it. */
  abandoned: AbortSignal;
}

/** Told the message's outcome once, as soon as it is settled (or known never to be). */
export type Report = (outcome: Outcome) => void;

/** The id is already in the inbox: ACK without running the handler (the dedup shortcut, README "Consuming"). */
export function alreadyRecorded(ctx: DeliveryContext, delivery: Delivery, id: string): Outcome {
  ctx.logger.info(`message ${id} was already handled on queue ${ctx.inbox.queue}: acking it without running the handler`);
  return settle(ctx, delivery, 'ack', 'recorded');
}

/**
 * `save()` said the id is already recorded. ACK it as a duplicate only if a committed row holds it: the
 * conflict may have been with this very delivery's uncommitted row — a second `save()` in a savepoint of
 * the transaction that saved first — and that transaction rolled back with it, recording nothing.
 */
export async function confirmDuplicate(ctx: DeliveryContext, delivery: Delivery, id: string, state?: PayloadState): Promise<Outcome> {
  const committed = await readInbox(ctx, delivery, 'check that the inbox row of a duplicate is committed', () => ctx.lookup.committed(id));
  if (committed === GAVE_UP) return 'abandoned';
  if (committed === true) {
    ctx.logger.info(`message ${id} was handled by another delivery meanwhile: acking it as a duplicate`);
    return settle(ctx, delivery, 'ack', 'duplicate', state);
  }
  const why = committed === false
    ? 'but no committed inbox row holds it: the conflict was with an uncommitted row of this same delivery (a second save() in a savepoint of the transaction that saved first?), and it all rolled back'
    : `and the check for a committed row failed (${committed.problem})`;
  ctx.logger.error(`save() found message ${id} already recorded, ${why}; nacking it to ${ctx.deadLetterQueue}`);
  return settle(ctx, delivery, 'nack', 'failed', state);
}

/**
 * One of the consumer's own inbox reads for this message: its value, GAVE_UP, or — for a failure that is
 * neither an outage nor the inbox table missing (which stops the consumer) — the problem, to NACK by.
 */
export async function readInbox<T>(ctx: DeliveryContext, delivery: Delivery, what: string, fn: () => Promise<T>): Promise<T | typeof GAVE_UP | { problem: string }> {
  try {
    return await ctx.read(what, fn, delivery.abandoned);
  } catch (error) {
    if (isOutboxError(error, 'E_DATABASE')) throw error;
    return { problem: describeDbError(error) };
  }
}

/** NACK without running the handler; one line saying why. */
export function invalid(ctx: DeliveryContext, delivery: Delivery, why: string): Outcome {
  ctx.logger.error(`${why}: dead-lettering it to ${ctx.deadLetterQueue} without running the handler`);
  return settle(ctx, delivery, 'nack', 'invalid');
}

export function settle(ctx: DeliveryContext, delivery: Delivery, kind: 'ack' | 'nack', outcome: Outcome, state?: PayloadState): Outcome {
  if (state) state.settled = true;
  if (delivery.settle(kind)) return outcome;
  ctx.logger.info(`message ${brokerId(delivery.message)} cannot be ${kind}ed: its connection is gone, the broker will redeliver it`);
  return 'abandoned';
}

/** The broker's message-id, printable: for logs about a message whose own id is missing or unusable. */
export function brokerId(message: StompMessage): string {
  const id = message.headers['message-id'] ?? '';
  return JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id);
}

/**
 * The handler's `signal` (aborts once the consumer gave up on the handler, or the message can no longer be
 * settled), made when the handler first reads it: most never do, and AbortSignal.any cost a measurable share
 * of a message's CPU (scripts/bench/README.md, Consumer).
 */
export function handlerSignal(gaveUp: AbortSignal, delivery: Delivery): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => (signal ??= AbortSignal.any([gaveUp, delivery.abandoned]));
}

/** How a handler call ended. It never rejects: a throw is a result like any other. */
export type HandlerResult = { kind: 'returned' } | { kind: 'threw'; error: unknown };

export function startHandler(call: () => unknown): Promise<HandlerResult> {
  return (async (): Promise<HandlerResult> => {
    try {
      await call();
      return { kind: 'returned' };
    } catch (error) {
      return { kind: 'threw', error };
    }
  })();
}

/** `consumer.handlerTimeout` in milliseconds, or null for no limit. */
export const timeoutMs = (ctx: DeliveryContext): number | null => (ctx.handlerTimeout === null ? null : ctx.handlerTimeout * 1000);

/**
 * A handler that ran past its timeout keeps its slot until it settles: never more than `concurrency`
 * handlers alive, each holding what it holds (a pooled connection, say). Says when it finally lets go.
 */
export async function outlive(ctx: DeliveryContext, running: Promise<HandlerResult>, id: string): Promise<void> {
  const since = performance.now();
  const result = await running;
  const late = ((performance.now() - since) / 1000).toFixed(1);
  const how = result.kind === 'threw' ? `threw (${(result.error as Error)?.message ?? String(result.error)})` : 'returned';
  ctx.logger.info(`the handler of message ${id} ${how} ${late} s after consumer.handlerTimeout; its slot is free again`);
}

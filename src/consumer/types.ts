import type { ResolvedConfig } from '../config/resolve.js';
import type { OutboxDb, OutboxTx } from '../db/types.js';
import type { Logger } from '../log/logger.js';

/**
 * One incoming message, as a handler sees it.
 *
 * A handler must end each message one of two ways:
 * - `await payload.save(tx)` inside the transaction that writes its effects: the message id is recorded in
 *   the inbox in that same transaction, and the consumer ACKs once the handler returns. If the id was
 *   already recorded (a redelivery), `save` throws `OutboxError('E_DUPLICATE')`: let it propagate so the
 *   transaction rolls back — the consumer then ACKs the message as a duplicate.
 * - `payload.nack()`: the message is rejected and dead-lettered to `DLQ.<queue>`.
 *
 * A handler that throws is NACKed (dead-lettered); one that does neither is NACKed with a warning.
 *
 * @example
 * export async function onOrder(payload: Payload<OrderBody>) {
 *   if (!valid(payload.body)) return payload.nack();
 *   await db.transaction(async (tx) => {
 *     await tx.insert(shipments).values({ orderId: payload.body.id });
 *     await payload.save(tx);
 *   });
 * }
 */
export interface Payload<T = unknown> {
  /** The body parsed as JSON; a body that is not JSON arrives as its UTF-8 text (a string). */
  readonly body: T;
  /** Every header of the MESSAGE frame, unescaped. */
  readonly headers: Readonly<Record<string, string>>;
  /** The dedup key: the first of `cap-msg-id`, `dop-msg-id`, `message-id`. */
  readonly messageId: string;
  /**
   * The message's `dop-correlation-id`, or a new UUID when it had none. The handler runs inside it,
   * so outbox rows it writes carry it on.
   */
  readonly correlationId: string;
  /** The destination the message was sent to (its `destination` header), else the subscribed one. */
  readonly destination: string;
  /** True when the broker says it delivered this message before (RabbitMQ's `redelivered` header). */
  readonly redelivered: boolean;
  /**
   * Records the message id in the inbox within `tx`, for this consumer's queue (the dedup scope: another
   * queue bound to the same topic records it separately). Throws `E_DUPLICATE` when it is already recorded
   * for this queue (the transaction must roll back), `E_SETTLED` when the message was already acked or nacked (e.g. after
   * the handler timed out). Calling it twice with the same `tx` is harmless.
   */
  save(tx: OutboxTx): Promise<void>;
  /** Rejects the message: it is NACKed (dead-lettered) when the handler returns. Idempotent. */
  nack(): void;
}

/** A message handler: `(payload) => Promise<void>`. Its return value is ignored. */
export type Handler<T = unknown> = (payload: Payload<T>) => unknown;

export interface ConsumerOptions<T = unknown> {
  /** The database `payload.save(tx)` writes to: the handler's transactions must be on this same database. */
  db: OutboxDb;
  config: ResolvedConfig;
  handler: Handler<T>;
  /** What to subscribe to, e.g. `/topic/orders` (amq.topic, routing key `orders`) or `/queue/orders`. */
  destination: string;
  /** The queue to declare and consume; default: the destination's last `/` segment. */
  queue?: string;
  logger?: Logger;
}

/** How a message ended. */
export type Outcome =
  /** The handler saved and returned: ACK. */
  | 'acked'
  /** Already in the inbox before delivery: ACK without running the handler. */
  | 'recorded'
  /** `save` found the id recorded by another delivery: ACK, the handler's transaction rolled back. */
  | 'duplicate'
  /** `payload.nack()`: NACK (dead-letter). */
  | 'nacked'
  /** The handler threw: NACK (dead-letter). */
  | 'failed'
  /** The handler neither saved (committed) nor nacked: NACK with a warning. */
  | 'unsettled'
  /** The handler ran past `consumer.handlerTimeout`: NACK (dead-letter). */
  | 'timeout'
  /**
   * The message cannot be handled or recorded, whatever the handler would do: a dedup key the inbox cannot
   * hold, a body that is not UTF-8 or that jsonb cannot store, a frame over the size limits. NACK without
   * running the handler.
   */
  | 'invalid'
  /** Neither ACK nor NACK was sent (connection lost, or shutdown timeout): the broker redelivers it. */
  | 'abandoned';

/** Running totals, per outcome, since `run` started, and of the messages received. */
export type OutcomeCounts = Record<Outcome, number> & { received: number };

/**
 * The outcome counts, and `hung`: handlers still running past `consumer.handlerTimeout` right now (their
 * messages were NACKed; each still holds its slot).
 */
export type ConsumerStats = OutcomeCounts & { hung: number };

export interface Consumer {
  /**
   * Connects (retrying with backoff), declares `DLQ.<queue>`, subscribes and handles messages until
   * `signal` aborts or `stop()` is called; then drains in-flight handlers (up to
   * `consumer.shutdownTimeout`), unsubscribes and disconnects. A lost connection is re-established; it
   * never ends `run`. Resolves when shut down. Rejects when the consumer cannot go on: every handler slot
   * held by a hung handler (`E_HANDLER_TIMEOUT`), the inbox table gone (`E_DATABASE`) — a supervisor should
   * restart the process.
   */
  run(signal?: AbortSignal): Promise<void>;
  /** Graceful stop; resolves when `run` has finished. Calling it again returns the same promise. */
  stop(): Promise<void>;
  /** Outcome counts so far. */
  stats(): ConsumerStats;
  /** The queue consumed (after defaulting) and the subscription id kept across reconnects. */
  readonly queue: string;
  readonly subscriptionId: string;
}

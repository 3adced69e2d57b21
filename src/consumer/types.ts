import type { ResolvedConfig } from '../config/resolve.js';
import type { OutboxDb, OutboxTx } from '../db/types.js';
import type { Logger } from '../log/logger.js';

/**
 * One incoming message, as a handler sees it.
 *
 * Handlers come in two forms (README "Handlers: who opens the transaction"):
 * - `(payload, { tx })`: the consumer opens the transaction, runs the handler in it, records the message in
 *   the inbox (`payload.save(tx)`) and commits; the handler only writes its effects with `tx`. A transaction
 *   that fails because the database connection did (a restart, a terminated backend) is retried.
 * - `(payload)`: the handler opens its own transaction and calls `payload.save(tx)` in it.
 *
 * Either way a handler may `payload.nack()` to reject the message (dead-lettered to `DLQ.<queue>`, and in
 * the first form its transaction rolls back). A handler that throws is NACKed too.
 *
 * @example
 * export async function onOrder(payload: Payload<OrderBody>, { tx }: HandlerContext) {
 *   if (!valid(payload.body)) return payload.nack();
 *   await tx.insert(shipments).values({ orderId: payload.body.id });
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
   * the handler timed out). Calling it twice with the same `tx` is harmless. A handler of the
   * `(payload, { tx })` form need not call it: the consumer does before committing.
   */
  save(tx: OutboxTx): Promise<void>;
  /**
   * Rejects the message: it is NACKed (dead-lettered) when the handler returns; in the `(payload, { tx })`
   * form the transaction rolls back. Idempotent.
   */
  nack(): void;
}

/** The second argument of a `(payload, { tx })` handler. */
export interface HandlerContext {
  /**
   * The transaction the consumer opened for this message: write the handler's effects with it. The consumer
   * records the message in the inbox in it and commits once the handler returns (unless it called `nack()`).
   */
  readonly tx: OutboxTx;
  /**
   * Aborts when the consumer stops waiting for the handler: it ran past `consumer.handlerTimeout` (the
   * message is NACKed and `tx` is closed), or the message can no longer be settled.
   */
  readonly signal: AbortSignal;
}

/**
 * A message handler. Its declared parameters choose its form: `(payload, { tx })` — two or more — lets the
 * consumer own the transaction; `(payload)` opens its own (see `Payload`). Its return value is ignored.
 */
export type Handler<T = unknown> = (payload: Payload<T>, context: HandlerContext) => unknown;

/**
 * Who opens the handler's transaction: `'consumer'` — it runs the handler inside the transaction it opened
 * (`(payload, { tx })`) — or `'handler'` — the handler opens its own and calls `payload.save(tx)`.
 */
export type HandlerForm = 'consumer' | 'handler';

export interface ConsumerOptions<T = unknown> {
  /**
   * The database the inbox is on, and the one the consumer opens `(payload, { tx })` handlers' transactions
   * on. A `(payload)` handler's own transactions must be on this same database.
   */
  db: OutboxDb;
  config: ResolvedConfig;
  handler: Handler<T>;
  /**
   * The handler's form. Default: read from the handler's declared parameters (`handler.length`): two or more
   * is `'consumer'`, fewer `'handler'`. Set it for a handler whose parameters cannot be counted — a wrapper
   * `(...args) => fn(...args)`, or a second parameter with a default value.
   */
  transaction?: HandlerForm;
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
   * held by a hung handler (`E_HANDLER_TIMEOUT`), the inbox table gone (`E_DATABASE`), a handler whose form
   * was misjudged (`E_CONFIG`) — a supervisor should restart the process.
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

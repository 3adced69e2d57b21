/**
 * Dead letters without a RabbitMQ console: read `DLQ.<queue>` (what a consumer's NACK dead-letters to,
 * README "Outcomes"), move messages back to `<queue>`, or drop them — over STOMP, with the broker settings
 * of the config.
 *
 * `<queue>` is the broker's name of the consumer's queue (on ActiveMQ `Consumer.<queue>.<topic>`, as
 * `outbox consume` logs it); destinations and headers per broker come from src/transport/brokers.ts.
 *
 * Reading: a subscription to `/amq/queue/DLQ.<queue>` on RabbitMQ (it exists or the broker says NOT_FOUND;
 * nothing is declared), `/queue/DLQ.<queue>` on ActiveMQ, with `ack:client-individual` and a prefetch. A
 * message is taken out only by an ACK; whatever was delivered and not ACKed goes back to the queue when the
 * connection closes. The end of the queue is
 * a quiet moment: no delivery for `quietMs` while nothing is in flight (STOMP has no "queue empty").
 *
 * Replaying is at least once: each message is re-sent to the queue (`/amq/queue/<queue>`, ActiveMQ's
 * `/queue/<queue>`) with its own headers, and ACKed from the DLQ only after the broker's RECEIPT for the
 * re-send. A connection lost in between leaves
 * it in the DLQ although it was re-sent: a later replay sends it again, and the consumer's inbox absorbs
 * the repeat (same dop-msg-id).
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { OutboxError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { connect } from '../stomp/connect.js';
import type { StompMessage, StompSession } from '../stomp/types.js';
import { monotonicMs } from '../util/clock.js';
import { sleep } from '../util/sleep.js';
import { brokerTraits, type BrokerTraits } from '../transport/brokers.js';
import { replayHeaders, toDeadLetter, type DeadLetter } from './dlq-message.js';

export { replayHeaders, type DeadLetter } from './dlq-message.js';

export interface DlqOptions {
  /** At most this many messages are read (peek) or moved/dropped (replay, purge). */
  limit?: number;
  /** Only messages with these ids (see `DeadLetter.id`); others are left where they are. */
  ids?: string[];
  logger?: Logger;
  /** The end of the queue: no delivery for this long, ms (default 1000). */
  quietMs?: number;
}

/** Messages read at most by a peek, so its answer fits in memory. */
export const PEEK_MAX = 10_000;
/** Deliveries in flight at once while replaying or purging a whole queue. */
const WINDOW = 100;
/** With `ids`, how many messages from the head of the DLQ are looked through, unless `limit` says. */
const ID_SCAN = 1000;

/** A broker ERROR that says a queue is missing, as a person reads it. */
function missingQueue(error: OutboxError | undefined, queue: string): OutboxError | undefined {
  if (!error) return undefined;
  if (/NOT_FOUND/.test(error.message)) return new OutboxError('E_BROKER_ERROR', `there is no queue ${queue} on the broker (${error.message})`, { cause: error });
  return error;
}

interface Reading {
  session: StompSession;
  /** The broker's entry (src/transport/brokers.ts): its queue destinations, headers and DLQ names. */
  traits: BrokerTraits;
  /** Resolves when the queue went quiet (nothing more is coming) or the connection ended. */
  done: Promise<void>;
  /** Something the caller is still doing about a message (a re-send awaiting its receipt). */
  busy(work: Promise<unknown>): void;
  /** Stop early: the caller has what it needs. */
  stop(): void;
}

/** Subscribes to the dead-letter queue of `queue` and hands every delivery to `onMessage` until it goes quiet. */
async function read(
  config: ResolvedConfig,
  queue: string,
  prefetch: number,
  options: DlqOptions,
  onMessage: (message: StompMessage, reading: Reading) => void,
): Promise<Reading> {
  const logger = options.logger ?? silentLogger;
  const quietMs = options.quietMs ?? 1000;
  const session = await connect({ broker: config.broker, logger });
  const traits = brokerTraits(session.flavor);
  let last = monotonicMs();
  let inflight = 0;
  let stopped = false;
  let closed = false;
  void session.closed.then(() => (closed = true));
  const reading: Reading = {
    session,
    traits,
    done: Promise.resolve(),
    busy(work) {
      inflight++;
      void work.finally(() => {
        inflight--;
        last = monotonicMs();
      }).catch(() => {});
    },
    stop() {
      stopped = true;
    },
  };
  const subscription = session.subscribe(traits.existingQueue(traits.deadLetterQueue(queue)), traits.readHeaders(prefetch), (message) => {
    last = monotonicMs();
    onMessage(message, reading);
  });
  reading.done = (async () => {
    try {
      await subscription.ready;
    } catch {
      // The connection ended first: its reason says why (below).
    }
    last = monotonicMs();
    while (!closed && !stopped && (inflight > 0 || monotonicMs() - last < quietMs)) await sleep(20);
    while (!closed && inflight > 0) await sleep(20);
    // The ERROR for a queue that does not exist comes just after the SUBSCRIBE's receipt.
    if (closed) {
      const reason = missingQueue(await session.closed, queue);
      if (reason) throw reason;
    }
  })();
  return reading;
}

/** Ends a reading: DISCONNECT with its receipt, which comes after the broker processed every ACK before it. */
async function finish(reading: Reading): Promise<boolean> {
  try {
    await reading.session.disconnect();
    return (await reading.session.closed) === undefined;
  } catch {
    return false;
  } finally {
    reading.session.destroy();
  }
}

/**
 * PEEK: up to `limit` (default 10, at most PEEK_MAX) messages from the head of `DLQ.<queue>`; they stay
 * there (never ACKed: they go back when the connection closes, marked redelivered).
 */
export async function peekDeadLetters(config: ResolvedConfig, queue: string, options: DlqOptions = {}): Promise<DeadLetter[]> {
  const limit = Math.min(options.limit ?? 10, PEEK_MAX);
  const found: DeadLetter[] = [];
  const reading = await read(config, queue, limit, options, (message, r) => {
    if (found.length < limit) found.push(toDeadLetter(message, r.traits));
    if (found.length >= limit) r.stop();
  });
  const ended = await reading.done.then(() => undefined, (error: unknown) => error);
  await finish(reading);
  if (ended) throw ended;
  return found;
}

/**
 * Checks that `queue` exists before anything is sent to it: RabbitMQ confirms a SEND to a missing
 * `/amq/queue/` and drops the message. A subscription of its own, closed at once; a message it may have
 * been handed meanwhile goes back to the queue (a consumer sees it redelivered).
 */
async function queueExists(config: ResolvedConfig, queue: string, logger: Logger): Promise<void> {
  const session = await connect({ broker: config.broker, logger });
  try {
    const traits = brokerTraits(session.flavor);
    // ActiveMQ creates a queue by subscribing to it (and takes a SEND to any queue): nothing to check.
    if (!traits.refusesMissingQueue) return;
    const subscription = session.subscribe(traits.existingQueue(queue), traits.readHeaders(1), () => {});
    await subscription.ready;
    // A missing queue's ERROR follows the SUBSCRIBE's receipt; the DISCONNECT's receipt comes after it.
    await session.disconnect();
    const reason = await session.closed;
    // An exclusive queue (consumer.exclusive) exists, and refuses a second consumer.
    if (reason && !/RESOURCE_LOCKED/.test(reason.message)) throw missingQueue(reason, queue)!;
  } finally {
    session.destroy();
  }
}

export interface MoveResult {
  /** Messages replayed (re-sent and ACKed) or purged (ACKed). */
  moved: number;
  /** Messages looked at and left in the DLQ (not among `ids`). */
  left: number;
  /** The broker confirmed the end of the session, so every ACK before it was processed. */
  confirmed: boolean;
}

/** Reads `DLQ.<queue>` and, for each message to move, runs `act` and ACKs after it succeeded. */
async function move(config: ResolvedConfig, queue: string, options: DlqOptions, act: (message: StompMessage, reading: Reading) => Promise<void>): Promise<MoveResult> {
  const ids = options.ids?.length ? new Set(options.ids) : undefined;
  const limit = options.limit ?? Infinity;
  const prefetch = ids ? Math.min(options.limit ?? ID_SCAN, PEEK_MAX) : Math.min(limit, WINDOW);
  let taken = 0;
  let moved = 0;
  let left = 0;
  let confirmed = false;
  let failure: unknown;
  await read(config, queue, prefetch, options, (message, reading) => {
    const id = toDeadLetter(message, reading.traits).id;
    if ((ids && !ids.has(id)) || taken >= limit || failure) {
      left++;
      return;
    }
    taken++;
    ids?.delete(id);
    reading.busy(
      act(message, reading).then(
        () => {
          reading.session.ack(message);
          moved++;
        },
        (error: unknown) => {
          failure ??= error;
          reading.stop();
        },
      ),
    );
    // Everything asked for is in hand: no need to wait for the queue to go quiet.
    if ((ids && ids.size === 0) || taken >= limit) reading.stop();
  }).then(async (reading) => {
    const ended = await reading.done.then(() => undefined, (error: unknown) => error);
    confirmed = await finish(reading);
    failure ??= ended;
  });
  if (failure) throw failure;
  return { moved, left, confirmed };
}

/**
 * REPLAY: moves messages from `DLQ.<queue>` back to `<queue>` (all, or `limit`, or those with `ids`): each
 * re-sent to `/amq/queue/<queue>` with its own headers (`replayHeaders`), and ACKed from the DLQ only after
 * the broker's receipt for the re-send.
 */
export async function replayDeadLetters(config: ResolvedConfig, queue: string, options: DlqOptions = {}): Promise<MoveResult> {
  await queueExists(config, queue, options.logger ?? silentLogger);
  return move(config, queue, options, (message, { session, traits }) =>
    session.send(traits.existingQueue(queue), message.body, { headers: replayHeaders(message.headers, config, queue, traits) }),
  );
}

/** PURGE: drops messages from `DLQ.<queue>` for good (all, or `limit`, or those with `ids`): an ACK each. */
export async function purgeDeadLetters(config: ResolvedConfig, queue: string, options: DlqOptions = {}): Promise<MoveResult> {
  return move(config, queue, options, async () => {});
}

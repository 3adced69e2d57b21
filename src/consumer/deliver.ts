/**
 * One message, start to end: dedup shortcut, the handler inside the message's correlation id, the
 * outcome, and the single ACK or NACK. The outcome rules (README "Outcomes"):
 *
 * | what happened                                   | outcome     | frame |
 * |-------------------------------------------------|-------------|-------|
 * | id already in the inbox (this queue) beforehand | recorded    | ACK   |
 * | save() found the id committed by another one    | duplicate   | ACK   |
 * | payload.nack()                                  | nacked      | NACK  |
 * | handler threw                                   | failed      | NACK  |
 * | handler ran past consumer.handlerTimeout        | timeout     | NACK  |
 * | save() and the inbox row is committed           | acked       | ACK   |
 * | neither (or the save's transaction rolled back) | unsettled   | NACK  |
 *
 * NACK carries `requeue:false`, so RabbitMQ dead-letters to `DLQ.<queue>` instead of redelivering at once.
 */
import { randomUUID } from 'node:crypto';
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { withCorrelationId } from '../publish/correlation.js';
import type { StompMessage } from '../stomp/types.js';
import { decodeBody } from '../wire/body.js';
import { messageIdOf } from '../wire/headers.js';
import { createPayload, type PayloadState } from './payload.js';
import { GAVE_UP, readInbox } from './inbox-read.js';
import type { InboxStatements } from './sql.js';
import type { Handler, Outcome } from './types.js';
import { TIMED_OUT, within } from '../util/within.js';

export interface DeliveryContext {
  handler: Handler<any>;
  inbox: InboxStatements;
  logger: Logger;
  /** The subscribed destination (used when a message has no `destination` header). */
  destination: string;
  /** Where NACKed messages end up, for the logs. */
  deadLetterQueue: string;
  /** Seconds, or null for no limit. */
  handlerTimeout: number | null;
}

export interface Delivery {
  message: StompMessage;
  /** Sends ACK or NACK on the connection the message came on; false when that connection is gone. */
  settle(kind: 'ack' | 'nack'): boolean;
  /** Aborts when the message can no longer be settled (its connection closed) or shutdown gave up on it. */
  abandoned: AbortSignal;
}

export async function deliver(ctx: DeliveryContext, delivery: Delivery): Promise<Outcome> {
  const { logger } = ctx;
  const { headers } = delivery.message;
  const key = messageIdOf(headers);
  if (!key) {
    // Not valid STOMP (MESSAGE requires message-id); nothing to dedup on, so the handler never sees it.
    logger.error(`a message on ${ctx.destination} has no message id header at all: dead-lettering it`);
    return settle(ctx, delivery, 'nack', 'failed');
  }
  const id = key.id;
  if (key.source === 'message-id') {
    logger.warn(`message ${id} has neither cap-msg-id nor dop-msg-id: deduplicating on the broker's message-id, which RabbitMQ changes on every redelivery`);
  }

  const recorded = await readInbox('looking the message up in the inbox', () => ctx.inbox.isRecorded(id), delivery.abandoned, logger);
  if (recorded === GAVE_UP) return 'abandoned';
  if (recorded) {
    logger.info(`message ${id} was already handled on queue ${ctx.inbox.queue}: acking it without running the handler`);
    return settle(ctx, delivery, 'ack', 'recorded');
  }

  const body = decodeBody(delivery.message.body);
  if (!body.json) logger.warn(`message ${id} has a body that is not JSON: the handler gets it as a string`);
  const { payload, state } = createPayload(
    {
      body: body.value,
      headers,
      messageId: id,
      correlationId: headers['dop-correlation-id'] || randomUUID(),
      destination: headers.destination || ctx.destination,
    },
    ctx.inbox,
  );

  const result = await runHandler(ctx, () => withCorrelationId(payload.correlationId, () => ctx.handler(payload)));
  return decide(ctx, delivery, id, state, result);
}

type HandlerResult = { kind: 'returned' } | { kind: 'threw'; error: unknown } | { kind: 'timeout' };

async function runHandler(ctx: DeliveryContext, call: () => unknown): Promise<HandlerResult> {
  const running = (async (): Promise<HandlerResult> => {
    try {
      await call();
      return { kind: 'returned' };
    } catch (error) {
      return { kind: 'threw', error };
    }
  })();
  const outcome = await within(running, { ms: ctx.handlerTimeout === null ? null : ctx.handlerTimeout * 1000 });
  return outcome === TIMED_OUT ? { kind: 'timeout' } : outcome;
}

async function decide(ctx: DeliveryContext, delivery: Delivery, id: string, state: PayloadState, result: HandlerResult): Promise<Outcome> {
  const { logger } = ctx;
  // First: a duplicate means another delivery's effects are the committed ones, whatever this handler did next.
  if (state.duplicate) {
    logger.info(`message ${id} was handled by another delivery meanwhile: acking it as a duplicate`);
    return settle(ctx, delivery, 'ack', 'duplicate', state);
  }
  if (result.kind === 'timeout') {
    const e = new OutboxError('E_HANDLER_TIMEOUT', `handler ran past ${ctx.handlerTimeout} s on message ${id}`);
    logger.warn(`${e.message}: nacking it to ${ctx.deadLetterQueue}; a save() it makes from now on throws E_SETTLED`);
    return settle(ctx, delivery, 'nack', 'timeout', state);
  }
  if (state.nacked) {
    logger.info(`handler nacked message ${id}: dead-lettering it to ${ctx.deadLetterQueue}`);
    return settle(ctx, delivery, 'nack', 'nacked', state);
  }
  if (result.kind === 'threw') {
    const error = result.error as Error;
    logger.error(`handler threw on message ${id}: ${error?.message ?? String(error)}; dead-lettering it to ${ctx.deadLetterQueue}`, error);
    return settle(ctx, delivery, 'nack', 'failed', state);
  }
  if (state.saved) {
    // save() only proves an insert ran; ACK only once the row is committed, or a handler that swallowed
    // its own rollback would lose the message.
    const committed = await readInbox('checking that the inbox row committed', () => ctx.inbox.isCommitted(id), delivery.abandoned, logger);
    if (committed === GAVE_UP) return 'abandoned';
    if (committed) return settle(ctx, delivery, 'ack', 'acked', state);
    logger.warn(
      `handler called save() on message ${id} but its transaction did not commit (or ran on another database than ` +
        `the consumer's): nacking it to ${ctx.deadLetterQueue}`,
    );
    return settle(ctx, delivery, 'nack', 'unsettled', state);
  }
  logger.warn(`handler returned without save() or nack() on message ${id}: nacking it to ${ctx.deadLetterQueue}`);
  return settle(ctx, delivery, 'nack', 'unsettled', state);
}

function settle(ctx: DeliveryContext, delivery: Delivery, kind: 'ack' | 'nack', outcome: Outcome, state?: PayloadState): Outcome {
  if (state) state.settled = true;
  if (delivery.settle(kind)) return outcome;
  ctx.logger.info(`message ${delivery.message.headers['message-id'] ?? ''} cannot be ${kind}ed: its connection is gone, the broker will redeliver it`);
  return 'abandoned';
}

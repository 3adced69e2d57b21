/**
 * The `(payload)` form: the handler opens its own transaction and calls `payload.save(tx)` in it; the
 * consumer learns what happened from the payload's state once the handler returns, and checks the
 * database before it ACKs — `save()` only proves an insert ran, not that it committed.
 */
import { withCorrelationId } from '../publish/correlation.js';
import { OutboxError } from '../errors.js';
import { TIMED_OUT, within } from '../util/within.js';
import {
  confirmDuplicate, handlerSignal, outlive, readInbox, settle, startHandler, timeoutMs,
  type Delivery, type DeliveryContext, type HandlerResult, type Report,
} from './delivery.js';
import { GAVE_UP } from './inbox-read.js';
import { contextWithoutTransaction, isMisjudgedForm } from './handler-form.js';
import { createPayload, type PayloadInit, type PayloadState } from './payload.js';
import type { Outcome } from './types.js';

export async function inHandlerTransaction(ctx: DeliveryContext, delivery: Delivery, init: PayloadInit, report: Report): Promise<void> {
  const { payload, state } = createPayload(init, ctx.inbox);
  const gaveUp = new AbortController();
  const context = contextWithoutTransaction(ctx.handler, handlerSignal(gaveUp.signal, delivery));
  const running = startHandler(() => withCorrelationId(payload.correlationId, () => ctx.handler(payload, context)));
  const result = await within(running, { ms: timeoutMs(ctx) });
  // Not the message's fault: stop the consumer, and leave the message for redelivery.
  if (result !== TIMED_OUT && result.kind === 'threw' && isMisjudgedForm(result.error)) throw result.error;
  report(await decide(ctx, delivery, init.messageId, state, result === TIMED_OUT ? { kind: 'timeout' } : result));
  if (result !== TIMED_OUT) return;
  gaveUp.abort();
  await outlive(ctx, running, init.messageId);
}

async function decide(ctx: DeliveryContext, delivery: Delivery, id: string, state: PayloadState, result: HandlerResult | { kind: 'timeout' }): Promise<Outcome> {
  const { logger } = ctx;
  // First: a duplicate means another delivery's effects are the committed ones, whatever this handler did next.
  if (state.duplicate) return confirmDuplicate(ctx, delivery, id, state);
  if (result.kind === 'timeout') {
    const e = new OutboxError('E_HANDLER_TIMEOUT', `handler ran past ${ctx.handlerTimeout} s on message ${id}`);
    logger.warn(`${e.message}: nacking it to ${ctx.deadLetterQueue}; a save() it makes from now on throws E_SETTLED, and it keeps its slot until it returns`);
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
    const committed = await readInbox(ctx, delivery, 'check that the inbox row committed', () => ctx.lookup.committed(id));
    if (committed === GAVE_UP) return 'abandoned';
    if (committed === true) return settle(ctx, delivery, 'ack', 'acked', state);
    const why = committed === false
      ? "its transaction did not commit (or ran on another database than the consumer's)"
      : `the check for its inbox row failed (${committed.problem})`;
    logger.warn(`handler called save() on message ${id} but ${why}: nacking it to ${ctx.deadLetterQueue}`);
    return settle(ctx, delivery, 'nack', 'unsettled', state);
  }
  logger.warn(`handler returned without save() or nack() on message ${id}: nacking it to ${ctx.deadLetterQueue}`);
  return settle(ctx, delivery, 'nack', 'unsettled', state);
}

/**
 * One message, start to end: the checks that need no database, the dedup shortcut, then the handler in the
 * form it was written in (handler-tx.ts or consumer-tx.ts), and the single ACK or NACK. The shortcut is a
 * lookup before a `(payload)` handler; for `(payload, { tx })` it is the inbox insert made first in the
 * consumer's transaction (consumer-tx.ts), one statement instead of two. The outcome rules
 * (README "Outcomes"):
 *
 * | what happened                                           | outcome     | frame |
 * |---------------------------------------------------------|-------------|-------|
 * | dedup key, body or header the inbox cannot take         | invalid     | NACK  |
 * | id already in the inbox (this queue) beforehand         | recorded    | ACK   |
 * | save() found the id, and a committed row holds it       | duplicate   | ACK   |
 * | payload.nack()                                          | nacked      | NACK  |
 * | handler threw (or a duplicate with no committed row)    | failed      | NACK  |
 * | handler ran past consumer.handlerTimeout                | timeout     | NACK  |
 * | the inbox row is committed                              | acked       | ACK   |
 * | neither (or the save's transaction rolled back)         | unsettled   | NACK  |
 *
 * A frame that could not be read (over the size limits, a lying content-length) is NACKed as `invalid` as
 * soon as it arrives (attachment.ts), without a handler slot. NACK carries `requeue:false`, so RabbitMQ
 * dead-letters to `DLQ.<queue>` instead of redelivering at once.
 */
import { randomUUID } from 'node:crypto';
import { decodeBody } from '../wire/body.js';
import type { Checked, Start } from './chain.js';
import { inConsumerTransaction } from './consumer-tx.js';
import { alreadyRecorded, brokerId, invalid, readInbox, type Delivery, type DeliveryContext, type Report } from './delivery.js';
import { inHandlerTransaction } from './handler-tx.js';
import { GAVE_UP } from './inbox-read.js';
import { contentProblem, dedupKeyOf } from './inspect.js';
import type { PayloadInit } from './payload.js';

/**
 * Handles one message and reports its outcome. Resolves once its handler has settled too: later than the
 * report for a handler that ran past its timeout, which keeps its slot until then. Rejects only when the
 * consumer cannot go on (its inbox table is gone, the handler's form was misjudged); the message is then
 * left unsettled, for the broker to redeliver.
 */
export async function deliver(ctx: DeliveryContext, delivery: Delivery, report: Report, start: Start = {}): Promise<void> {
  const checked = start.chained?.checked ?? checkDelivery(ctx, delivery);
  if ('invalid' in checked) return report(invalid(ctx, delivery, checked.invalid));
  for (const warning of checked.warnings) ctx.logger.warn(warning);
  const { init } = checked;
  // The consumer's own transaction records the message first, and that insert is the dedup check.
  if (ctx.form === 'consumer') return inConsumerTransaction(ctx, delivery, init, report, start);

  const id = init.messageId;
  const recorded = await readInbox(ctx, delivery, 'look the message up in the inbox', () => ctx.lookup.recorded(id));
  if (recorded === GAVE_UP) return report('abandoned');
  if (typeof recorded === 'object') return report(invalid(ctx, delivery, `message ${id}: the inbox lookup failed (${recorded.problem})`));
  if (recorded) return report(alreadyRecorded(ctx, delivery, id));
  return inHandlerTransaction(ctx, delivery, init, report);
}

/** The checks that need no database: the payload's fields, or why the message is NACKed as `invalid`. */
export function checkDelivery(ctx: DeliveryContext, delivery: Delivery): Checked | { invalid: string } {
  const { message } = delivery;
  const key = dedupKeyOf(message);
  if ('problem' in key) return { invalid: `message ${brokerId(message)} ${key.problem}` };
  const id = key.id;
  const body = decodeBody(message.body);
  const content = contentProblem(message.body, body.value, message.headers);
  if (content) return { invalid: `message ${id} ${content}` };
  const warnings: string[] = [];
  if (key.source === 'message-id') {
    warnings.push(`message ${id} has neither cap-msg-id nor dop-msg-id: deduplicating on the broker's message-id, which RabbitMQ changes on every redelivery`);
  }
  if (!body.json) warnings.push(`message ${id} has a body that is not JSON: the handler gets it as a string`);
  const init: PayloadInit = {
    body: body.value,
    headers: message.headers,
    messageId: id,
    correlationId: message.headers['dop-correlation-id'] || randomUUID(),
    destination: message.headers.destination || ctx.destination,
  };
  return { init, warnings };
}

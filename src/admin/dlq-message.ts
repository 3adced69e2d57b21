/**
 * A dead letter as `outbox dlq` shows and re-sends it: the message's id and headers without what the broker
 * adds per delivery, RabbitMQ's reason for dead-lettering it, and the headers a replay sends.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { deadLetterHeaders, subscribeHeaders } from '../consumer/subscription.js';
import type { StompMessage } from '../stomp/types.js';
import { FRAME_HEADERS, messageIdOf, type MessageIdSource } from '../wire/headers.js';

export interface DeadLetter {
  /** What `--id` matches: the message's cap-msg-id, else dop-msg-id, else RabbitMQ's message-id (per delivery). */
  id: string;
  idSource: MessageIdSource;
  /** Its headers as delivered from the DLQ, without the ones the broker sets per delivery. */
  headers: Record<string, string>;
  /** The body as text (UTF-8). */
  body: string;
  /** Why it was dead-lettered, from RabbitMQ's `x-first-death-*` headers; null when it does not say. */
  reason: { reason: string; queue?: string; exchange?: string; text: string } | null;
  /** RabbitMQ delivered it before (a peek returns messages redelivered). */
  redelivered: boolean;
}

/** Headers the broker sets on each delivery: never part of the message, never re-sent. */
const DELIVERY = new Set([...FRAME_HEADERS, 'redelivered']);
/** RabbitMQ's record of the dead-lettering: shown as the reason, never re-sent (the re-send is a new life). */
const DEATH = /^x-(first|last)-death-|^x-death$/;

/** What RabbitMQ's x-first-death-reason means, in words. */
function explainDeath(headers: Record<string, string>): DeadLetter['reason'] {
  const reason = headers['x-first-death-reason'];
  if (!reason) return null;
  const queue = headers['x-first-death-queue'];
  const exchange = headers['x-first-death-exchange'];
  const where = queue ? ` ${queue}` : '';
  const text =
    reason === 'rejected' ? `rejected (NACK) by a consumer of${where || ' its queue'}`
    : reason === 'expired' ? `expired in${where || ' its queue'} (message TTL)`
    : reason === 'maxlen' ? `dropped from${where || ' its queue'}, which was full (x-max-length)`
    : reason === 'delivery_limit' ? `delivered too often from${where || ' its queue'} (delivery limit)`
    : `${reason}${where ? ` in${where}` : ''}`;
  return { reason, ...(queue ? { queue } : {}), ...(exchange ? { exchange } : {}), text };
}

/**
 * The headers of a dead letter as they are re-sent: its own, without the broker's per-delivery ones, without
 * the dead-lettering record, and without what RabbitMQ copied onto it from a subscription's queue arguments
 * (RabbitMQ 3.10 hands SUBSCRIBE headers such as `x-queue-name` back as message headers) — a header is dropped when
 * a subscription to the queue or its DLQ sets that name to that very value. `content-type` is kept,
 * `persistent:true` set.
 */
export function replayHeaders(headers: Record<string, string>, config: ResolvedConfig, queue: string): Record<string, string> {
  // name=value pairs a subscription to the queue or to its DLQ sets (the two give x-queue-name different values).
  const added = new Set(
    [subscribeHeaders(config.consumer, queue), deadLetterHeaders(config.consumer, queue), readHeaders(1)].flatMap((set) =>
      Object.entries(set).map(([name, value]) => `${name}=${value}`),
    ),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (DELIVERY.has(lower) || DEATH.test(lower) || added.has(`${lower}=${value}`)) continue;
    out[name] = value;
  }
  if (headers['content-type']) out['content-type'] = headers['content-type'];
  out.persistent = 'true';
  return out;
}

/** Our subscription to a DLQ: individual acks, `prefetch` deliveries at a time. */
export function readHeaders(prefetch: number): Record<string, string> {
  return { ack: 'client-individual', 'prefetch-count': String(prefetch) };
}

export function toDeadLetter(message: StompMessage): DeadLetter {
  const found = messageIdOf(message.headers) ?? { id: '', source: 'message-id' as const };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) if (!DELIVERY.has(name.toLowerCase())) headers[name] = value;
  return {
    id: found.id,
    idSource: found.source,
    headers,
    body: message.body.toString('utf8'),
    reason: explainDeath(message.headers),
    redelivered: message.headers.redelivered === 'true',
  };
}

/**
 * A dead letter as `outbox dlq` shows and re-sends it: the message's id and headers without what the broker
 * adds per delivery, the broker's reason for dead-lettering it, and the headers a replay sends.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { deadLetterHeaders, subscribeHeaders } from '../consumer/subscription.js';
import type { StompMessage } from '../stomp/types.js';
import { rabbitmq, type BrokerTraits, type DeathReason } from '../transport/brokers.js';
import { FRAME_HEADERS, messageIdOf, type MessageIdSource } from '../wire/headers.js';

export interface DeadLetter {
  /** What `--id` matches: the message's cap-msg-id, else dop-msg-id, else RabbitMQ's message-id (per delivery). */
  id: string;
  idSource: MessageIdSource;
  /** Its headers as delivered from the DLQ, without the ones the broker sets per delivery. */
  headers: Record<string, string>;
  /** The body as text (UTF-8). */
  body: string;
  /** Why it was dead-lettered: RabbitMQ's `x-first-death-*` headers, ActiveMQ's `original-destination`; null when it does not say. */
  reason: DeathReason | null;
  /** RabbitMQ delivered it before (a peek returns messages redelivered). */
  redelivered: boolean;
}

/** Headers the broker sets on each delivery: never part of the message, never re-sent. */
const DELIVERY = new Set([...FRAME_HEADERS, 'redelivered']);
/** RabbitMQ's record of the dead-lettering: shown as the reason, never re-sent (the re-send is a new life). */
const DEATH = /^x-(first|last)-death-|^x-death$/;

/**
 * The headers of a dead letter as they are re-sent: its own, without the broker's per-delivery ones, without
 * the dead-lettering record, and without what RabbitMQ copied onto it from a subscription's queue arguments
 * (RabbitMQ 3.10 hands SUBSCRIBE headers such as `x-queue-name` back as message headers) — a header is dropped when
 * a subscription to the queue or its DLQ sets that name to that very value. `content-type` is kept,
 * `persistent:true` set.
 */
export function replayHeaders(headers: Record<string, string>, config: ResolvedConfig, queue: string, traits: BrokerTraits = rabbitmq): Record<string, string> {
  // name=value pairs a subscription to the queue or to its DLQ sets (the two give x-queue-name different values).
  const added = new Set(
    [subscribeHeaders(config.consumer, queue), deadLetterHeaders(config.consumer, queue), traits.readHeaders(1)].flatMap((set) =>
      Object.entries(set).map(([name, value]) => `${name}=${value}`),
    ),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (DELIVERY.has(lower) || traits.deliveryHeaders.has(lower) || DEATH.test(lower) || added.has(`${lower}=${value}`)) continue;
    out[name] = value;
  }
  if (headers['content-type']) out['content-type'] = headers['content-type'];
  out.persistent = 'true';
  return out;
}

export function toDeadLetter(message: StompMessage, traits: BrokerTraits = rabbitmq): DeadLetter {
  const found = messageIdOf(message.headers) ?? { id: '', source: 'message-id' as const };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    const lower = name.toLowerCase();
    if (!DELIVERY.has(lower) && !traits.deliveryHeaders.has(lower)) headers[name] = value;
  }
  return {
    id: found.id,
    idSource: found.source,
    headers,
    body: message.body.toString('utf8'),
    reason: traits.deathReason(message.headers),
    redelivered: message.headers.redelivered === 'true',
  };
}

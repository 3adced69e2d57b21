/**
 * The SUBSCRIBE headers, exactly as django-outbox-pattern sends them (so a queue either library declared
 * can be consumed by the other without PRECONDITION_FAILED), with its faults fixed: `client-individual`
 * acks instead of cumulative `client`, and lowercase `true`/`false` instead of Python's `False`.
 */
import type { ConsumerConfig } from '../config/types.js';
import { destinationProblem } from '../wire/destination.js';
import { queueNameProblem } from '../wire/queue-name.js';

/** The queue a destination is consumed from by default: its last `/` segment (`/topic/orders` → `orders`). */
export function defaultQueueName(destination: string): string {
  const last = destination.split('/').filter(Boolean).pop();
  return last ?? destination;
}

/**
 * Why a consumer of `destination` on `queue` (default: the destination's last segment) could never
 * subscribe, or undefined. The destination follows the config's rules; the queue, RabbitMQ's.
 */
export function consumeTargetProblem(destination: unknown, queue?: string): string | undefined {
  const bad = destinationProblem(destination);
  if (bad) return `destination ${bad}`;
  if (queue !== undefined && queue !== '') {
    const problem = queueNameProblem(queue);
    return problem ? `queue ${problem}` : undefined;
  }
  const problem = queueNameProblem(defaultQueueName(destination as string));
  return problem ? `queue (the destination's last segment, by default) ${problem}: name another queue` : undefined;
}

/** The dead-letter queue of a queue. */
export const deadLetterQueue = (queue: string): string => `DLQ.${queue}`;

/** Headers for consuming `queue`: durable, dead-lettering to `DLQ.<queue>` through the default exchange. */
export function subscribeHeaders(consumer: ConsumerConfig, queue: string): Record<string, string> {
  return {
    durable: 'true',
    'auto-delete': 'false',
    ...lowercaseBooleans(consumer.queueHeaders),
    'prefetch-count': String(consumer.prefetchCount),
    exclusive: String(consumer.exclusive),
    'x-queue-name': queue,
    // "" is the default exchange, which routes by queue name: NACK with requeue:false lands in DLQ.<queue>.
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': deadLetterQueue(queue),
    // Last, so no queue header can turn on cumulative acks: one ACK must never settle other messages.
    ack: 'client-individual',
  };
}

/**
 * Headers that declare `DLQ.<queue>`. The arguments match django-outbox-pattern's declaration of the same queue
 * (its DLQ dead-letters to `DLQ.DLQ.<queue>`), because RabbitMQ refuses a re-declaration with different
 * arguments. Never exclusive: an exclusive DLQ would vanish with the connection that declared it.
 */
export function deadLetterHeaders(consumer: ConsumerConfig, queue: string): Record<string, string> {
  const dlq = deadLetterQueue(queue);
  return {
    durable: 'true',
    'auto-delete': 'false',
    ...lowercaseBooleans(consumer.queueHeaders),
    'prefetch-count': '1',
    exclusive: 'false',
    'x-queue-name': dlq,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': deadLetterQueue(dlq),
    ack: 'client-individual',
  };
}

/** `True`/`FALSE` from a config written for the Python library become `true`/`false`. */
function lowercaseBooleans(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const value = String(v);
    out[k] = /^(true|false)$/i.test(value) ? value.toLowerCase() : value;
  }
  return out;
}

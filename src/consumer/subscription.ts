/**
 * The consumer's queue: its default name, the check of a destination and queue before anything connects.
 * How each broker is subscribed to (RabbitMQ's headers exactly as django-outbox-pattern sends them, with its
 * faults fixed: `client-individual` acks, lowercase `true`/`false`) is in src/transport/brokers.ts.
 */
import { rabbitDeadLetterHeaders, rabbitSubscribeHeaders } from '../transport/brokers.js';
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

/** The dead-letter queue of a queue on RabbitMQ (ActiveMQ's is the same of its own queue name: src/transport/brokers.ts). */
export const deadLetterQueue = (queue: string): string => `DLQ.${queue}`;

/** RabbitMQ's SUBSCRIBE headers for `queue` (they live in the broker table beside ActiveMQ's). */
export const subscribeHeaders = rabbitSubscribeHeaders;

/** RabbitMQ's headers declaring `DLQ.<queue>`. */
export const deadLetterHeaders = rabbitDeadLetterHeaders;

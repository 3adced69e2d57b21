/**
 * What differs between the STOMP brokers we speak to, in one table (README "Brokers"). Everything else —
 * frames, receipts, acks, heart-beats, the wire headers — is STOMP 1.2 and the same on both. A connection's
 * broker is recognised from the CONNECTED frame's `server` header (`broker.flavor` overrides it), and
 * the consumer, the dead-letter commands, the relay's error attribution and its publish check read the
 * entry for it here instead of asking "is this ActiveMQ?" where they stand.
 *
 * @example
 * const traits = brokerTraits(session.flavor);
 * const target = traits.consume('/topic/orders', 'billing', config.consumer);
 * session.subscribe(target.destination, target.headers, onMessage);
 */
import type { BrokerFlavor, ConsumerConfig } from '../config/types.js';
import { OutboxError } from '../errors.js';

export type { BrokerFlavor } from '../config/types.js';

/** Where and how a consumer subscribes on one broker. */
export interface ConsumeTarget {
  /** The STOMP destination of the SUBSCRIBE. */
  destination: string;
  headers: Record<string, string>;
  /** The broker's name of the queue the messages wait in (what `outbox dlq` is given). */
  queue: string;
  /** Where a NACKed message goes. */
  deadLetterQueue: string;
  /**
   * A SUBSCRIBE that declares the dead-letter queue before the first NACK, for a broker that drops a dead
   * letter with nowhere to go; undefined where the broker creates it on the first dead letter.
   */
  declareDeadLetter?: { destination: string; headers: Record<string, string> };
}

/** Why a message sits in a dead-letter queue, as the broker recorded it. */
export interface DeathReason {
  reason: string;
  queue?: string;
  exchange?: string;
  text: string;
}

export interface BrokerTraits {
  readonly flavor: BrokerFlavor;
  /** For messages: `RabbitMQ`, `ActiveMQ`. */
  readonly label: string;
  /** The SUBSCRIBE of a consumer of `destination` on its queue named `queue` (the service's name for it). */
  consume(destination: string, queue: string, consumer: ConsumerConfig): ConsumeTarget;
  /** Headers of a NACK that dead-letters instead of requeueing. */
  readonly deadLetterNack: Readonly<Record<string, string>>;
  /** The dead-letter queue of a queue, by the broker's name of it. */
  deadLetterQueue(queue: string): string;
  /** A destination that reads from, or sends to, an existing queue without declaring it. */
  existingQueue(queue: string): string;
  /** Headers that read a queue `prefetch` messages at a time, acked one by one. */
  readHeaders(prefetch: number): Record<string, string>;
  /** Whether an ERROR (or a subscription that delivers nothing) can tell that a queue does not exist. */
  readonly refusesMissingQueue: boolean;
  /** Headers the broker adds to a message per delivery or when dead-lettering: never re-sent by a replay. */
  readonly deliveryHeaders: ReadonlySet<string>;
  /** The broker's record of why a dead letter was dead-lettered, or null. */
  deathReason(headers: Record<string, string>): DeathReason | null;
  /** The names a broker ERROR gives to what it refused (queues, exchanges, destinations). */
  errorNames(message: string): string[];
  /** The names the broker's ERRORs would give a SEND to `destination` (none when it never names it). */
  destinationNames(destination: string): string[];
  /** Where the relay's publish check sends: confirmed, then dropped (nothing receives it). */
  readonly publishCheck: string;
}

/** RabbitMQ and ActiveMQ spell the dead-letter queue alike (ActiveMQ through the broker's individualDeadLetterStrategy). */
const DLQ_PREFIX = 'DLQ.';

/** `True`/`FALSE` from a config written for the Python library become `true`/`false`. */
function lowercaseBooleans(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const value = String(v);
    out[k] = /^(true|false)$/i.test(value) ? value.toLowerCase() : value;
  }
  return out;
}

// --- RabbitMQ -----------------------------------------------------------------------------------------

/**
 * Headers for consuming `queue` on RabbitMQ, exactly as django-outbox-pattern sends them (so a queue either
 * library declared can be consumed by the other without PRECONDITION_FAILED): durable, dead-lettering to
 * `DLQ.<queue>` through the default exchange; `client-individual` acks and lowercase booleans.
 */
export function rabbitSubscribeHeaders(consumer: ConsumerConfig, queue: string): Record<string, string> {
  return {
    durable: 'true',
    'auto-delete': 'false',
    ...lowercaseBooleans(consumer.queueHeaders),
    'prefetch-count': String(consumer.prefetchCount),
    exclusive: String(consumer.exclusive),
    'x-queue-name': queue,
    // "" is the default exchange, which routes by queue name: NACK with requeue:false lands in DLQ.<queue>.
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': DLQ_PREFIX + queue,
    // Last, so no queue header can turn on cumulative acks: one ACK must never settle other messages.
    ack: 'client-individual',
  };
}

/**
 * Headers that declare `DLQ.<queue>` on RabbitMQ. The arguments match django-outbox-pattern's declaration of
 * the same queue (its DLQ dead-letters to `DLQ.DLQ.<queue>`), because RabbitMQ refuses a re-declaration with
 * different arguments. Never exclusive: an exclusive DLQ would vanish with the connection that declared it.
 */
export function rabbitDeadLetterHeaders(consumer: ConsumerConfig, queue: string): Record<string, string> {
  const dlq = DLQ_PREFIX + queue;
  return {
    durable: 'true',
    'auto-delete': 'false',
    ...lowercaseBooleans(consumer.queueHeaders),
    'prefetch-count': '1',
    exclusive: 'false',
    'x-queue-name': dlq,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': DLQ_PREFIX + dlq,
    ack: 'client-individual',
  };
}

/** What RabbitMQ's x-first-death-reason means, in words. */
function rabbitDeath(headers: Record<string, string>): DeathReason | null {
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

export const rabbitmq: BrokerTraits = {
  flavor: 'rabbitmq',
  label: 'RabbitMQ',
  consume(destination, queue, consumer) {
    return {
      // `/topic/k`: RabbitMQ declares `queue` and binds it to amq.topic with routing key k.
      destination,
      headers: rabbitSubscribeHeaders(consumer, queue),
      queue,
      deadLetterQueue: DLQ_PREFIX + queue,
      // RabbitMQ drops a dead-lettered message whose routing key matches no queue.
      declareDeadLetter: { destination: `/queue/${DLQ_PREFIX}${queue}`, headers: rabbitDeadLetterHeaders(consumer, queue) },
    };
  },
  deadLetterNack: { requeue: 'false' },
  deadLetterQueue: (queue) => DLQ_PREFIX + queue,
  existingQueue: (queue) => `/amq/queue/${queue}`,
  readHeaders: (prefetch) => ({ ack: 'client-individual', 'prefetch-count': String(prefetch) }),
  refusesMissingQueue: true,
  deliveryHeaders: new Set(['redelivered']),
  deathReason: rabbitDeath,
  /**
   * RabbitMQ names the culprit inside the ERROR text, e.g. "PRECONDITION_FAILED - inequivalent arg
   * 'x-max-length' for queue 'orders' in vhost '/'" or "NOT_FOUND - no exchange 'billing' in vhost '/'".
   */
  errorNames: (message) => [...message.matchAll(/\b(?:queue|exchange)\s+'([^']+)'/g)].map((m) => m[1]!),
  /**
   * `/queue/x`, `/amq/queue/x` → `x`; `/exchange/e/key` → `e`. A `/topic/k` SEND publishes to `amq.topic` and
   * declares nothing, so a queue-level error never names it (a consumer's queue called `k` must not make it look guilty).
   */
  destinationNames(destination) {
    const parts = destination.split('/').filter(Boolean);
    if (parts[0] === 'topic') return [];
    if (parts[0] === 'queue') return parts.slice(1, 2);
    if (parts[0] === 'amq' && parts[1] === 'queue') return parts.slice(2, 3);
    if (parts[0] === 'exchange') return parts.slice(1, 2);
    return parts.slice(-1);
  },
  // `/amq/queue/` never declares, and a missing queue drops the message.
  publishCheck: '/amq/queue/drizzle-outbox.publish-check',
};

// --- ActiveMQ Classic ---------------------------------------------------------------------------------

/**
 * The consumer queue of a virtual topic takes one word between `Consumer.` and the topic's name: a `.`, `*`
 * or `>` in the service's queue name would make it another name, or a wildcard.
 */
const consumerWord = (queue: string): string => queue.replace(/[.*>]/g, '-');

/** `queue://x`, `topic://x`, `temp-queue://x`: how ActiveMQ names destinations in its ERRORs. */
const ACTIVEMQ_NAME = /\b((?:temp-)?(?:queue|topic)):\/\/([^\s,;\]]+)/g;

export const activemq: BrokerTraits = {
  flavor: 'activemq',
  label: 'ActiveMQ',
  /**
   * On ActiveMQ `/topic/x` is plain pub/sub: a subscriber gone is a subscriber that misses messages. The
   * durable queue per service is a virtual topic's consumer queue, `/queue/Consumer.<queue>.x`: the broker
   * copies every message sent to topic x into each queue so named (README "Brokers" says how the broker is
   * set up for it). Events still go to `/topic/x`, as the row says and django-outbox-pattern's services send
   * and subscribe. A `/queue/x` destination is consumed as it is.
   */
  consume(destination, queue, consumer) {
    const parts = destination.split('/').filter(Boolean);
    let physical: string;
    if (parts[0] === 'topic') physical = `Consumer.${consumerWord(queue)}.${parts.slice(1).join('/')}`;
    else if (parts[0] === 'queue') physical = parts.slice(1).join('/');
    else if (parts[0] === 'amq' && parts[1] === 'queue') physical = parts.slice(2).join('/');
    else throw new OutboxError('E_CONFIG', `${destination} is a RabbitMQ destination: ActiveMQ consumes /topic/<name> or /queue/<name>`);
    const headers: Record<string, string> = {};
    // Only ActiveMQ's own subscription headers: RabbitMQ's queue arguments (durable, x-*) mean nothing here.
    for (const [name, value] of Object.entries(lowercaseBooleans(consumer.queueHeaders))) if (name.startsWith('activemq.')) headers[name] = value;
    headers['activemq.prefetchSize'] = String(consumer.prefetchCount);
    if (consumer.exclusive) headers['activemq.exclusive'] = 'true';
    headers.ack = 'client-individual';
    return { destination: `/queue/${physical}`, headers, queue: physical, deadLetterQueue: DLQ_PREFIX + physical };
  },
  // A STOMP NACK is a poison ack on ActiveMQ: straight to the DLQ, whatever the redelivery policy.
  deadLetterNack: {},
  deadLetterQueue: (queue) => DLQ_PREFIX + queue,
  existingQueue: (queue) => `/queue/${queue}`,
  readHeaders: (prefetch) => ({ ack: 'client-individual', 'activemq.prefetchSize': String(prefetch) }),
  // Subscribing to a queue creates it: a missing queue reads as an empty one.
  refusesMissingQueue: false,
  deliveryHeaders: new Set(['redelivered', 'expires', 'priority', 'timestamp', 'original-destination', 'originalexpiration']),
  deathReason(headers) {
    const from = headers['original-destination'];
    if (!from) return null;
    const queue = from.replace(/^\/queue\//, '');
    return { reason: 'dead-lettered', queue, text: `NACKed (or redelivered too often) by a consumer of ${queue}` };
  },
  errorNames: (message) => [...message.matchAll(ACTIVEMQ_NAME)].map((m) => `${m[1]}://${m[2]}`),
  destinationNames(destination) {
    const m = /^\/(queue|topic|temp-queue|temp-topic|remote-temp-queue|remote-temp-topic)\/(.+)$/.exec(destination);
    if (!m) return [];
    return [`${m[1]!.replace(/^remote-/, '')}://${m[2]}`];
  },
  // A topic nobody consumes (no Consumer.*.drizzle-outbox.publish-check queue exists): confirmed, dropped.
  publishCheck: '/topic/drizzle-outbox.publish-check',
};

/** The table. */
export const BROKERS: Readonly<Record<BrokerFlavor, BrokerTraits>> = { rabbitmq, activemq };

/** The entry for `flavor`; RabbitMQ's when it is not known (a transport that does not say, a broker we do not recognise). */
export function brokerTraits(flavor: BrokerFlavor | undefined): BrokerTraits {
  return (flavor && BROKERS[flavor]) || rabbitmq;
}

/**
 * The broker behind a CONNECTED frame's `server` header (`ActiveMQ/5.17.2`, `RabbitMQ/3.10.8`); `override`
 * (`broker.flavor`) wins. A broker that does not say, or that we do not know, is taken for RabbitMQ.
 */
export function recogniseBroker(server: string | undefined, override?: BrokerFlavor): BrokerFlavor {
  if (override) return override;
  if (server && /^activemq\b/i.test(server)) return 'activemq';
  return 'rabbitmq';
}

/**
 * Names in a broker ERROR, each prefixed with its broker, read with every broker's rules: an E_BROKER_ERROR
 * does not say which broker sent it, and the two spell names apart (`queue 'x'` and `queue://x`), so no
 * ERROR matches the other broker's names.
 */
export function namesInError(message: string): Set<string> {
  const names = new Set<string>();
  for (const traits of Object.values(BROKERS)) for (const n of traits.errorNames(message)) names.add(`${traits.flavor}:${n}`);
  return names;
}

/** The names a SEND to `destination` could go by in an ERROR, on any broker, prefixed as `namesInError` does. */
export function namesOfDestination(destination: string): string[] {
  return Object.values(BROKERS).flatMap((traits) => traits.destinationNames(destination).map((n) => `${traits.flavor}:${n}`));
}

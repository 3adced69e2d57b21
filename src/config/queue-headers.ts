import { OutboxError } from '../errors.js';

/**
 * Checks `consumer.queueHeaders` before anything connects: a header STOMP cannot carry would otherwise
 * fail every SUBSCRIBE, on every reconnect. Numbers and booleans pass (they are sent as text, as the
 * Python library's config would have them); objects, arrays, null and undefined do not.
 */
export function checkQueueHeaders(headers: unknown): void {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new OutboxError('E_CONFIG', 'consumer.queueHeaders must be an object of header names to string values');
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name === '') throw new OutboxError('E_CONFIG', 'consumer.queueHeaders has a header with an empty name');
    if (name.includes('\0')) throw new OutboxError('E_CONFIG', `consumer.queueHeaders: header name ${JSON.stringify(name)} contains NUL`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw new OutboxError('E_CONFIG', `consumer.queueHeaders["${name}"] must be a string, not ${kind}`);
    }
    if (String(value).includes('\0')) throw new OutboxError('E_CONFIG', `consumer.queueHeaders["${name}"] contains NUL`);
  }
}

/**
 * A quorum queue (`x-queue-type: quorum`, RabbitMQ's replicated queue since mirrored classic queues went)
 * cannot be exclusive, auto-delete or non-durable: RabbitMQ refuses the SUBSCRIBE that declares one with
 * PRECONDITION_FAILED and closes the connection, at every reconnect (measured on 3.10). Said at start-up
 * instead. Runs after `checkQueueHeaders`.
 */
export function checkQueueType(consumer: { exclusive: boolean; queueHeaders: Record<string, unknown> }): void {
  const headers = consumer.queueHeaders;
  const type = String(headers['x-queue-type'] ?? '').toLowerCase();
  if (type !== 'quorum') return;
  const refused: string[] = [];
  if (consumer.exclusive) refused.push('consumer.exclusive true');
  if (String(headers.durable ?? 'true').toLowerCase() === 'false') refused.push('durable: false');
  if (String(headers['auto-delete'] ?? 'false').toLowerCase() === 'true') refused.push('auto-delete: true');
  if (refused.length > 0) {
    throw new OutboxError('E_CONFIG', `consumer.queueHeaders asks for a quorum queue, which RabbitMQ refuses with ${refused.join(', ')}`);
  }
}

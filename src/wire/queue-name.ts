/**
 * The queue names a consumer may declare on RabbitMQ. A name the broker refuses is not refused at start-up
 * but at every SUBSCRIBE, on every reconnect: the consumer would loop forever. So it is refused here, with
 * the rules measured against RabbitMQ's STOMP plugin (3.10):
 *
 * - not empty: an empty `x-queue-name` asks for a server-named queue nobody else could find;
 * - not `amq.…`: ACCESS_REFUSED, "contains reserved prefix 'amq.*'", and the connection closes;
 * - no `/`: the dead-letter queue is declared as `/queue/DLQ.<queue>`, and RabbitMQ answers a `/queue/`
 *   destination with a slash in its name with "is not a valid queue destination";
 * - no control characters: NUL cannot be sent in a header at all, and the others only hide in logs;
 * - at most 251 UTF-8 bytes, so that `DLQ.<queue>` stays within AMQP's 255-byte names (the STOMP plugin
 *   accepted a 256-byte name here, but no AMQP client or `rabbitmqctl` command can name such a queue).
 */

/** The dead-letter queue's prefix (django-outbox-pattern's `DLQ.<queue>`), which the limit leaves room for. */
const DLQ_PREFIX = 'DLQ.';

export const MAX_QUEUE_NAME_BYTES = 255 - DLQ_PREFIX.length;

/** Why RabbitMQ would refuse `name` as the consumer's queue, or undefined when it is fine. */
export function queueNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'must be a non-empty queue name';
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return `${shown} contains a control character`;
  if (name.startsWith('amq.')) return `${shown} starts with "amq.", which RabbitMQ reserves for itself`;
  if (name.includes('/')) return `${shown} contains "/", which RabbitMQ refuses in the /queue/DLQ.<queue> destination of its dead-letter queue`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_QUEUE_NAME_BYTES) return `${shown} is ${bytes} bytes long: at most ${MAX_QUEUE_NAME_BYTES}, so that DLQ.<queue> fits RabbitMQ's 255`;
  return undefined;
}

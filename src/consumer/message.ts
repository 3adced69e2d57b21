/**
 * What the consumer reads off an incoming MESSAGE: its dedup key and its body.
 * Pure functions, so the rules (the same as django-outbox-pattern's) are tested on their own.
 */

/** Where a message's dedup key came from. `message-id` is RabbitMQ's per-delivery id: useless for dedup. */
export type MessageIdSource = 'cap-msg-id' | 'dop-msg-id' | 'message-id';

/** The dedup key order: CAP (.NET) first, then django-outbox-pattern / this library, then the broker's own. */
const ID_HEADERS: readonly MessageIdSource[] = ['cap-msg-id', 'dop-msg-id', 'message-id'];

/**
 * The message's dedup key: the first non-empty of `cap-msg-id`, `dop-msg-id`, `message-id`.
 * Undefined only for a frame that breaks STOMP (every MESSAGE carries `message-id`).
 */
export function messageIdOf(headers: Record<string, string>): { id: string; source: MessageIdSource } | undefined {
  for (const source of ID_HEADERS) {
    const id = headers[source];
    if (id) return { id, source };
  }
  return undefined;
}

/**
 * The body as the handler sees it: parsed JSON, or the UTF-8 text itself when it is not JSON
 * (the caller logs that; a message is never dropped for its body).
 */
export function decodeBody(body: Buffer): { value: unknown; json: boolean } {
  const text = body.toString('utf8');
  try {
    return { value: JSON.parse(text), json: true };
  } catch {
    return { value: text, json: false };
  }
}

/**
 * The message headers of the wire format django-outbox-pattern defined and this library keeps (README
 * "Wire format"): their names, which of them nobody but the library may set, and the order a consumer reads
 * its deduplication key in. Publishing, the relay, the producer and the consumer all take them from here.
 */

/** The outbox row's UUID: stable across resends, what consumers deduplicate on. */
export const MESSAGE_ID = 'dop-msg-id';
export const DESTINATION = 'dop-msg-destination';
export const MESSAGE_TYPE = 'dop-msg-type';
/** The only `dop-msg-type` this library writes. */
export const PUBLISHED = 'Published';
export const SENT_TIME = 'dop-msg-sent-time';
export const CORRELATION_ID = 'dop-correlation-id';
/** The ordering key of a keyed message (README "Ordering"). */
export const KEY = 'outbox-key';
/** The message's position within its destination and key: 1, 2, 3, … in send order, so a consumer sees a gap or a reordering. */
export const KEY_SEQ = 'outbox-key-seq';

/** Set by the library from the outbox row itself; a headers hook or a caller may not change them. */
export const LIBRARY_HEADERS: ReadonlySet<string> = new Set([MESSAGE_ID, DESTINATION, MESSAGE_TYPE, SENT_TIME, KEY, KEY_SEQ]);

/**
 * Frame headers: the STOMP client writes them (destination, content-length, receipt) or they change what the
 * broker does with a SEND or a delivery. A caller may not store them on a row, and a stored copy (a row
 * written by hand) is never sent: a stray `receipt` would lose the confirm, a `message-id` is the broker's.
 */
export const FRAME_HEADERS: ReadonlySet<string> = new Set([
  'destination', 'content-type', 'content-length', 'persistent', 'receipt', 'transaction', 'message-id', 'subscription', 'ack',
]);

/** Where a message's dedup key came from. `message-id` is RabbitMQ's per-delivery id: useless for dedup. */
export type MessageIdSource = 'cap-msg-id' | 'dop-msg-id' | 'message-id';

/** The dedup key order: CAP (.NET) first, then django-outbox-pattern / this library, then the broker's own. */
export const DEDUP_HEADERS: readonly MessageIdSource[] = ['cap-msg-id', MESSAGE_ID, 'message-id'];

/**
 * The message's dedup key: the first non-empty of `cap-msg-id`, `dop-msg-id`, `message-id`.
 * Undefined only for a frame that breaks STOMP (every MESSAGE carries `message-id`).
 */
export function messageIdOf(headers: Record<string, string>): { id: string; source: MessageIdSource } | undefined {
  for (const source of DEDUP_HEADERS) {
    const id = headers[source];
    if (id) return { id, source };
  }
  return undefined;
}

/**
 * The headers a stored outbox row goes out with: the stored ones exactly as written at insert, plus
 * `content-type:application/json` and `persistent:true`. The STOMP client adds `destination`,
 * `content-length` and `receipt`.
 *
 * `row`: the row's own id and destination, for the identifying headers a row written by hand or by another
 * tool may lack. Without `dop-msg-id` a consumer cannot deduplicate, so a missing one defaults to the row
 * id (stable across resends); present headers are never overridden.
 */
export function sendHeaders(
  stored: Record<string, unknown> | null | undefined,
  row?: { id: string; destination: string; key?: string | null; keySeq?: number | null },
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (row) {
    headers[MESSAGE_ID] = row.id;
    headers[DESTINATION] = row.destination;
    headers[MESSAGE_TYPE] = PUBLISHED;
  }
  for (const [name, value] of Object.entries(stored ?? {})) {
    if (value === undefined || value === null || FRAME_HEADERS.has(name.toLowerCase())) continue;
    headers[name] = typeof value === 'string' ? value : String(value);
  }
  // A keyed row's position comes from its columns, which the relay orders by: the headers say the same.
  if (row?.key != null && row.keySeq != null) {
    headers[KEY] = row.key;
    headers[KEY_SEQ] = String(row.keySeq);
  }
  // The body is JSON (jsonb) whatever a custom header claims, and a message the broker confirmed must
  // survive a broker restart: these two always win.
  headers['content-type'] = 'application/json';
  headers.persistent = 'true';
  return headers;
}

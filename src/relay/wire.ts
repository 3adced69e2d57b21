/**
 * What goes on the wire for an outbox row (SPEC "Wire format"): the stored headers exactly as written at
 * insert (dop-msg-id, dop-msg-destination, dop-msg-type, dop-msg-sent-time, dop-correlation-id and the
 * user's own), plus `content-type:application/json` and `persistent:true`. The STOMP client adds
 * `destination`, `content-length` and `receipt`.
 */

/** Headers the client owns: a stored copy must never override them (a stray `receipt` would lose the confirm). */
const CLIENT_OWNED = new Set(['destination', 'content-length', 'receipt', 'transaction']);

/**
 * `row`: the row's own id and destination, for the identifying headers a row written by hand or by another
 * tool may lack. Without `dop-msg-id` a consumer cannot deduplicate, so a missing one defaults to the row
 * id (stable across resends); present headers are never overridden.
 */
export function sendHeaders(stored: Record<string, unknown> | null | undefined, row?: { id: string; destination: string }): Record<string, string> {
  const headers: Record<string, string> = {};
  if (row) {
    headers['dop-msg-id'] = row.id;
    headers['dop-msg-destination'] = row.destination;
    headers['dop-msg-type'] = 'Published';
  }
  for (const [name, value] of Object.entries(stored ?? {})) {
    if (value === undefined || value === null || CLIENT_OWNED.has(name)) continue;
    headers[name] = typeof value === 'string' ? value : String(value);
  }
  // The body is JSON (jsonb) whatever a custom header claims, and a message the broker confirmed must
  // survive a broker restart: these two always win.
  headers['content-type'] = 'application/json';
  headers.persistent = 'true';
  return headers;
}

/** The body as sent: the jsonb value serialised back to JSON text. */
export function sendBody(body: unknown): string {
  return JSON.stringify(body === undefined ? null : body);
}

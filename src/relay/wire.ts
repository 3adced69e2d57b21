/**
 * What goes on the wire for an outbox row (SPEC "Wire format"): the stored headers exactly as written at
 * insert (dop-msg-id, dop-msg-destination, dop-msg-type, dop-msg-sent-time, dop-correlation-id and the
 * user's own), plus `content-type:application/json` and `persistent:true`. The STOMP client adds
 * `destination`, `content-length` and `receipt`.
 */

/** Headers the client owns: a stored copy must never override them (a stray `receipt` would lose the confirm). */
const CLIENT_OWNED = new Set(['destination', 'content-length', 'receipt', 'transaction']);

export function sendHeaders(stored: Record<string, unknown> | null | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
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

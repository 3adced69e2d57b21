import type { OutboxRowDraft } from '../config/types.js';
import { OutboxError } from '../errors.js';
import { CORRELATION_ID, DESTINATION, FRAME_HEADERS, LIBRARY_HEADERS, MESSAGE_ID, MESSAGE_TYPE, PUBLISHED, SENT_TIME } from '../wire/headers.js';


export type HeadersHook = (row: OutboxRowDraft) => Record<string, string>;

/**
 * The headers of one outbox row, computed once at insert and never rewritten: the relay sends exactly
 * these (plus destination, content-type, content-length, persistent and receipt). Precedence, low to high:
 * the correlation id (the ambient one, else one new UUID per helper call, so the events of one call share
 * it) and the active trace context (`traceparent`, `tracestate`), the config's `headers(row)` hook, the
 * caller's headers.
 * `dop-correlation-id` may be overridden; the other `dop-msg-*` headers and frame headers may not.
 */
export function outboxHeaders(
  row: OutboxRowDraft,
  sentTime: string,
  correlationId: string,
  hook?: HeadersHook,
  custom?: Record<string, string | undefined>,
  trace?: Record<string, string>,
): Record<string, string> {
  const headers: Record<string, string> = {
    [MESSAGE_ID]: row.id,
    [DESTINATION]: row.destination,
    [MESSAGE_TYPE]: PUBLISHED,
    [SENT_TIME]: sentTime,
    [CORRELATION_ID]: correlationId,
    ...trace,
  };
  if (hook) addHeaders(headers, hook(row), 'the config\'s headers(row) hook', row.destination);
  if (custom) addHeaders(headers, custom, 'headers', row.destination);
  return headers;
}

function addHeaders(into: Record<string, string>, extra: unknown, source: string, destination: string): void {
  if (extra === undefined || extra === null) return;
  if (typeof extra !== 'object' || Array.isArray(extra)) {
    throw new OutboxError('E_INVALID_HEADER', `${source} must return an object of string headers (${destination})`);
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) continue;
    const problem = headerProblem(name, value);
    if (problem) throw new OutboxError('E_INVALID_HEADER', `${source}: header "${name}" ${problem} (${destination})`);
    into[name] = value as string;
  }
}

function headerProblem(name: string, value: unknown): string | undefined {
  if (name === '' || name.includes('\u0000')) return 'has an empty name or a NUL in its name';
  const lower = name.toLowerCase();
  if (LIBRARY_HEADERS.has(lower)) return 'is set by the library from the outbox row and cannot be overridden';
  if (FRAME_HEADERS.has(lower)) return 'is a STOMP frame header the relay sets';
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`;
  if (value.includes('\u0000')) return 'contains NUL, which STOMP cannot carry';
  return undefined;
}

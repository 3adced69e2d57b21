/**
 * What makes a message impossible to handle, whatever the handler would do with it, found before any
 * database call: the inbox could not record it, so every lookup or insert would fail the same way on every
 * redelivery (a NUL in the dedup key made PostgreSQL refuse each lookup with SQLSTATE 22021, and a lookup
 * retried forever stalled the consumer). Such a message is NACKed to the dead-letter queue with the reason.
 */
import { isUtf8 } from 'node:buffer';
import type { StompMessage } from '../stomp/types.js';
import { messageIdOf, type MessageIdSource } from '../wire/headers.js';

/**
 * The longest dedup key accepted, in UTF-8 bytes. Keys are UUIDs (36 bytes: django-outbox-pattern, this
 * library) or numbers (CAP); 255 leaves room for any id scheme and stays far below what a btree index entry
 * can hold (about 2,700 bytes), which a longer key would break with SQLSTATE 54000 on insert.
 */
export const MAX_DEDUP_KEY_BYTES = 255;

/** The message's dedup key, or why it has none that the inbox can use. */
export function dedupKeyOf(message: Pick<StompMessage, 'headers'>): { id: string; source: MessageIdSource } | { problem: string } {
  const key = messageIdOf(message.headers);
  // Not valid STOMP (MESSAGE requires message-id): nothing to dedup on.
  if (!key) return { problem: 'has no message id header at all (cap-msg-id, dop-msg-id or message-id)' };
  const problem = dedupKeyProblem(key.id);
  return problem ? { problem: `has a ${key.source} header that ${problem}` } : key;
}

/**
 * Why a dedup key cannot be stored and looked up, or undefined. PostgreSQL text holds no NUL; control
 * characters are never part of an id and make logs lie; U+FFFD is what an invalid UTF-8 sequence becomes
 * when the header is decoded, so two different keys could look alike and one be acked as the other.
 */
export function dedupKeyProblem(id: string): string | undefined {
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_DEDUP_KEY_BYTES) return `is ${bytes} bytes long (the limit is ${MAX_DEDUP_KEY_BYTES})`;
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u001f\u007f-\u009f\ufffd]/.exec(id);
  if (bad) {
    const code = bad[0].charCodeAt(0);
    const what = code === 0 ? 'NUL' : code === 0xfffd ? 'invalid UTF-8 (U+FFFD)' : `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return `contains ${what} at character ${bad.index}`;
  }
  return undefined;
}

/**
 * Why a message's body and headers cannot be given to a handler and stored in the inbox (both go into jsonb
 * columns), or undefined. Bytes that are not UTF-8 would reach the handler changed (as U+FFFD) and could
 * not be stored as they came; jsonb refuses `\u0000` (SQLSTATE 22P05) and unpaired surrogates in any string
 * or key, which JSON text may carry as escapes — and a header, a raw NUL, which RabbitMQ forwards.
 */
export function contentProblem(body: Buffer, decoded: unknown, headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    const found = stringProblem(name) ?? stringProblem(value);
    if (found) return `has a header ${JSON.stringify(name.slice(0, 40))} the inbox cannot store: ${found} (jsonb refuses it)`;
  }
  if (!isUtf8(body)) return `has a body that is not valid UTF-8 (${body.length} bytes)`;
  const found = unstorable(decoded, 0);
  return found ? `has a body the inbox cannot store: ${found} (jsonb refuses it)` : undefined;
}

/** JSON nested deeper than this is not walked further (JSON.parse itself stops far below a stack overflow). */
const MAX_DEPTH = 10_000;

function unstorable(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return stringProblem(value);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = unstorable(item, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = stringProblem(key) ?? unstorable(item, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function stringProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'a string holds \\u0000';
  // A high surrogate not followed by a low one, or a low one not preceded by a high one.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) return 'a string holds an unpaired surrogate';
  return undefined;
}

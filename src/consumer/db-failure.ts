/**
 * What the consumer does about a failed database call of its own (an inbox lookup, the inbox insert, the
 * transaction it opened for a handler), by the kind of failure:
 *
 * | kind      | examples                                                        | what the consumer does                    |
 * |-----------|-----------------------------------------------------------------|-------------------------------------------|
 * | outage    | connection lost or refused (08*, ECONNRESET…), operator action   | wait with the database backoff and try    |
 * |           | (57*: restart, cancel, statement timeout), our own deadline,     | again; the message keeps its prefetch     |
 * |           | resources (53*, 58*), 40* (serialisation, deadlock), 55P03       | slot, so consumption pauses               |
 * | setup     | 3D000, 28*, 42P01/42703 (no table: `outbox migrate`), 42501    | stop the consumer: waiting fixes nothing  |
 * | message   | everything else: 22* (a value PostgreSQL cannot take), 23*, 54* | NACK this message to `DLQ.<queue>`        |
 *
 * Anything not known to pass is a per-message failure rather than an outage, because an outage retried for
 * a message that will fail the same way every time is a consumer stopped for good.
 */
import { describeDbError, isConnectionError, isForbidden, isSetupError, sqlState } from '../db/errors.js';
import { OutboxError } from '../errors.js';

export type DbFailure = 'outage' | 'setup' | 'message';

const deadlines = new WeakSet<object>();

/** The error for a database call that did not answer within its deadline: an outage. */
export function deadlineExceeded(what: string, ms: number): OutboxError {
  const error = new OutboxError('E_DATABASE', `${what}: no answer from the database within ${ms / 1000} s`);
  deadlines.add(error);
  return error;
}

export function classifyDbFailure(error: unknown): DbFailure {
  if (typeof error === 'object' && error !== null && deadlines.has(error)) return 'outage';
  if (isConnectionError(error)) return 'outage';
  if (isSetupError(error) || isForbidden(error)) return 'setup';
  const state = sqlState(error) ?? '';
  if (/^(40|53|57|58)/.test(state) || state === '55P03') return 'outage';
  return 'message';
}

/** The error that stops the consumer for a setup failure: waiting fixes nothing, and no message is to blame. */
export function setupFailure(what: string, error: unknown): OutboxError {
  return new OutboxError(
    'E_DATABASE',
    `cannot ${what}: the inbox table is missing or outdated, or not ours to use (${describeDbError(error)}): run \`outbox migrate\``,
    { cause: error },
  );
}

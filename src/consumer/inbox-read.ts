/**
 * The consumer's own reads of the inbox (the lookup before a handler, the commit check after it), retried
 * through a database outage with the database backoff until they work or the message is given up. While
 * one waits the message stays unacked and holds its prefetch slot, which throttles the broker: an outage
 * pauses consumption instead of dead-lettering every message that arrives meanwhile. A missing table is
 * not an outage: it throws `E_DATABASE` at once (run `outbox migrate`).
 */
import { describeDbError, isSchemaMissing } from '../db/errors.js';
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { databaseRetry, retry, RetryAborted } from '../util/retry.js';

/** Returned by `readInbox` when the wait was given up (shutdown timeout, lost connection). */
export const GAVE_UP = Symbol('gave up');

export async function readInbox<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, logger: Logger, maxBackoff = 30): Promise<T | typeof GAVE_UP> {
  try {
    return await retry(fn, {
      policy: databaseRetry(maxBackoff),
      signal,
      fatal: isSchemaMissing,
      onRetry: (error, _attempt, delay) => logger.warn(`${what} failed (${describeDbError(error)}); retrying in ${delay.toFixed(1)} s`),
    });
  } catch (error) {
    if (error instanceof RetryAborted) return GAVE_UP;
    throw new OutboxError('E_DATABASE', `${what} failed: the inbox table is missing or outdated (${describeDbError(error)}): run \`outbox migrate\``, { cause: error });
  }
}

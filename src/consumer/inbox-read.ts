/**
 * The consumer's own reads of the inbox (the lookup before a handler, the commit check after it). Each has
 * a deadline, and an outage (see db-failure.ts) is waited out with the database backoff until the read
 * works or the message is given up. While one waits the message stays unacked and holds its prefetch slot,
 * which throttles the broker: an outage pauses consumption instead of dead-lettering every message that
 * arrives meanwhile. Any other failure is thrown at once: a missing table as `E_DATABASE` (run
 * `outbox migrate`), the rest as it came, for the caller to settle the message by.
 */
import { databaseRetry, retry, RetryAborted } from '../util/retry.js';
import type { OutageLog } from '../util/outage.js';
import { TIMED_OUT, within } from '../util/within.js';
import { classifyDbFailure, deadlineExceeded, setupFailure } from './db-failure.js';

/** Returned by a read when the wait was given up (shutdown timeout, lost connection). */
export const GAVE_UP = Symbol('gave up');

/**
 * How long one of the consumer's own statements may take: a primary-key probe or a one-row insert answers
 * in milliseconds, so a statement still unanswered after this is an outage (a server that stopped
 * answering, a pool with no connection to give), not a slow query.
 */
export const STATEMENT_DEADLINE_MS = 15_000;

export interface InboxReaderOptions {
  /** One log for every read: an outage is reported once per change of cause, not once per message. */
  outage: OutageLog;
  /** `database.maxBackoff`, seconds. */
  maxBackoff: number;
  deadlineMs?: number;
}

export type InboxReader = <T>(what: string, fn: () => Promise<T>, signal: AbortSignal) => Promise<T | typeof GAVE_UP>;

export function createInboxReader(options: InboxReaderOptions): InboxReader {
  const { outage, maxBackoff } = options;
  const deadlineMs = options.deadlineMs ?? STATEMENT_DEADLINE_MS;
  return async (what, fn, signal) => {
    try {
      const value = await retry(
        async () => {
          const answer = await within(fn(), { ms: deadlineMs });
          if (answer === TIMED_OUT) throw deadlineExceeded(what, deadlineMs);
          return answer;
        },
        {
          policy: databaseRetry(maxBackoff),
          signal,
          fatal: (error) => classifyDbFailure(error) !== 'outage',
          onRetry: (error, _attempt, delay) => outage.failed(error, delay),
        },
      );
      outage.recovered();
      return value;
    } catch (error) {
      if (error instanceof RetryAborted) return GAVE_UP;
      if (classifyDbFailure(error) === 'setup') throw setupFailure(what, error);
      throw error;
    }
  };
}

import type { Logger } from '../log/logger.js';
import { describeDbError, isSchemaMissing } from '../db/errors.js';
import { OutboxError } from '../errors.js';
import { sleep } from '../util/sleep.js';

/** Returned by `persist` when the wait was given up (shutdown timeout, lost connection). */
export const GAVE_UP = Symbol('gave up');

/**
 * Retries a database call of the consumer's own (the inbox lookup, the commit check) until it works or
 * `signal` aborts, backing off `min(2^n, 30)` s. While it waits the message stays unacked and holds its
 * prefetch slot, which throttles the broker: a database outage pauses consumption instead of
 * dead-lettering every message that arrives meanwhile. A missing table is not an outage: it throws
 * `E_DATABASE` at once (run `outbox migrate`).
 */
export async function persist<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, logger: Logger): Promise<T | typeof GAVE_UP> {
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) return GAVE_UP;
    try {
      return await fn();
    } catch (error) {
      if (isSchemaMissing(error)) {
        throw new OutboxError('E_DATABASE', `${what} failed: the inbox table is missing or outdated (${describeDbError(error)}): run \`outbox migrate\``, { cause: error });
      }
      const delay = Math.min(2 ** attempt, 30);
      logger.warn(`${what} failed (${describeDbError(error)}); retrying in ${delay} s`);
      if (!(await sleep(delay * 1000, signal))) return GAVE_UP;
    }
  }
}

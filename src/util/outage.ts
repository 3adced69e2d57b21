/**
 * Logging an outage the way an operator wants to read it: one line when it starts, one when its cause
 * changes, a summary once a minute while it lasts, and one when it is over — not a line per retry.
 *
 * @example
 * const outage = createOutageLog(logger, 'claim from the database', describeDbError);
 * retry(claim, { onRetry: (error, _n, delay) => outage.failed(error, delay) }).then(() => outage.recovered());
 */
import type { Logger } from '../log/logger.js';
import { monotonicMs } from './clock.js';

export interface OutageLog {
  /** A try failed; the next comes in `retryInSeconds`. */
  failed(error: unknown, retryInSeconds?: number): void;
  /** A try worked: if an outage was going on, say it is over. */
  recovered(): void;
  /** True while tries keep failing. */
  readonly down: boolean;
}

/** While an outage lasts, a summary line this often. */
export const SUMMARY_EVERY_MS = 60_000;

export function createOutageLog(logger: Logger, what: string, describe: (error: unknown) => string = String): OutageLog {
  let since: number | undefined;
  let lastCause = '';
  let failures = 0;
  let summarisedAt = 0;
  return {
    failed(error, retryInSeconds) {
      const cause = describe(error);
      const now = monotonicMs();
      failures++;
      const retrying = retryInSeconds === undefined ? '' : `; retrying in ${retryInSeconds.toFixed(1)} s`;
      if (since === undefined || cause !== lastCause) {
        logger.warn(`cannot ${what} (${cause})${retrying}${since === undefined ? '' : ' — the cause changed'}`);
        since ??= now;
        summarisedAt = now;
      } else if (now - summarisedAt >= SUMMARY_EVERY_MS) {
        logger.warn(`still cannot ${what} after ${failures} tries in ${Math.round((now - since) / 1000)} s (${cause})${retrying}`);
        summarisedAt = now;
      }
      lastCause = cause;
    },
    recovered() {
      if (since === undefined) return;
      logger.info(`can ${what} again after ${((monotonicMs() - since) / 1000).toFixed(1)} s (${failures} failed tries)`);
      since = undefined;
      failures = 0;
      lastCause = '';
    },
    get down() {
      return since !== undefined;
    },
  };
}

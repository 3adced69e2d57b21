/**
 * The one retry loop: call, and on failure wait a growing delay and call again, until it works, the error
 * is one waiting cannot fix, the tries run out, or the signal aborts. Every database retry of the relay and
 * the consumer, and the broker reconnect, use it with a policy of their own.
 *
 * @example
 * const rows = await retry(() => statements.claim(...), {
 *   policy: databaseRetry(config.database.maxBackoff), signal, fatal: isSchemaMissing,
 *   onRetry: (error, attempt, delay) => outage.failed(error, delay),
 *   wake: (ms, signal) => wake.wait(ms, signal), // a NOTIFY means the database answers again
 * });
 */
import { backoffSeconds, jitteredSeconds } from './backoff.js';
import { ABORTED, within } from './within.js';

export interface RetryPolicy {
  /** Seconds to wait after the `attempt`-th failure (from 0). */
  delay(attempt: number): number;
  /** Calls in all before giving up (the last error is thrown). Default: no limit. */
  tries?: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  /** Aborting ends a wait at once; `retry` then rejects with `RetryAborted`. */
  signal?: AbortSignal;
  /** Errors that waiting cannot fix (a missing table, bad credentials): thrown at once. */
  fatal?: (error: unknown) => boolean;
  /** Called after each failure that will be retried, before the wait (logging, counting). */
  onRetry?: (error: unknown, attempt: number, delaySeconds: number) => void;
  /**
   * Ends a wait early: resolves when there is reason to try again now (a NOTIFY arrived, a connection came
   * back). Called with the wait's length and signal; it must resolve by then at the latest.
   */
  wake?: (ms: number, signal: AbortSignal) => Promise<unknown>;
}

/** What `retry` rejects with when its signal aborts: the caller asked it to stop, nothing failed. */
export class RetryAborted extends Error {
  override readonly name = 'RetryAborted';
  constructor(readonly lastError: unknown) {
    super('retry was aborted');
  }
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, signal, fatal, onRetry, wake } = options;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new RetryAborted(undefined);
    try {
      return await fn(attempt);
    } catch (error) {
      if (fatal?.(error)) throw error;
      if (policy.tries !== undefined && attempt + 1 >= policy.tries) throw error;
      if (signal?.aborted) throw new RetryAborted(error);
      const seconds = policy.delay(attempt);
      onRetry?.(error, attempt, seconds);
      // The wake-up gets a signal of its own, ended when the wait is over: no listener outlives the wait.
      const stop = new AbortController();
      const onAbort = (): void => stop.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      let outcome: unknown;
      try {
        outcome = await within(wake ? wake(seconds * 1000, stop.signal) : new Promise(() => {}), { ms: seconds * 1000, signal });
      } finally {
        signal?.removeEventListener('abort', onAbort);
        stop.abort();
      }
      if (outcome === ABORTED) throw new RetryAborted(error);
    }
  }
}

/** Database retries: 0.5 s, 1 s, 2 s, … up to `maxSeconds` (`database.maxBackoff`), jittered. */
export const databaseRetry = (maxSeconds: number, tries?: number): RetryPolicy => ({
  delay: (attempt) => jitteredSeconds(attempt, 0.5, maxSeconds),
  tries,
});

/** Broker reconnects: `min(2^n + jitter, broker.maxBackoff)` (see backoffSeconds). */
export const brokerRetry = (maxSeconds: number): RetryPolicy => ({ delay: (attempt) => backoffSeconds(attempt, maxSeconds) });

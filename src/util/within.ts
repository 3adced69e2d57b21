/**
 * The one bounded wait: a promise raced against a time limit and an abort signal. Every "wait for this, but
 * not longer than that" in the library goes through here, so the timer and the listener are always removed
 * (nothing keeps the process alive or leaks a listener per call).
 *
 * @example
 * const outcome = await within(relay.drained, { ms: 10_000, signal });
 * if (outcome === TIMED_OUT) logger.warn('still sending after 10 s');
 */

export const TIMED_OUT: unique symbol = Symbol('timed out');
export const ABORTED: unique symbol = Symbol('aborted');

export interface Limit {
  /** Milliseconds; null or undefined: no time limit. */
  ms?: number | null;
  signal?: AbortSignal;
}

/**
 * Resolves with `work`'s value, or TIMED_OUT / ABORTED when the limit comes first (at once if the signal
 * has already aborted). Rejects when `work` rejects first.
 */
export function within<T>(work: Promise<T>, limit: { signal: AbortSignal; ms?: undefined }): Promise<T | typeof ABORTED>;
export function within<T>(work: Promise<T>, limit: { ms: number | null; signal?: undefined }): Promise<T | typeof TIMED_OUT>;
export function within<T>(work: Promise<T>, limit: Limit): Promise<T | typeof TIMED_OUT | typeof ABORTED>;
export function within<T>(work: Promise<T>, limit: Limit): Promise<T | typeof TIMED_OUT | typeof ABORTED> {
  const { ms, signal } = limit;
  if (signal?.aborted) return Promise.resolve(ABORTED);
  if ((ms === null || ms === undefined) && !signal) return work;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      resolve(ABORTED);
    };
    if (ms !== null && ms !== undefined) {
      timer = setTimeout(() => {
        done();
        resolve(TIMED_OUT);
      }, Math.max(0, ms));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** True when `work` settled (either way) within `ms`: for waits that only need to know whether it ended. */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return (await within(work.then(() => true, () => true), { ms })) === true;
}

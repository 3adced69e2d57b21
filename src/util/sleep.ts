/**
 * Waits `ms`, ending early when `signal` aborts (or at once if it already has). Resolves true when the
 * whole wait passed, false when the signal cut it short; never rejects. The timer and the listener are
 * always removed, so an aborted or finished wait leaves nothing behind.
 *
 * @example
 * if (!(await sleep(backoffSeconds(n, max) * 1000, signal))) return; // shutting down
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

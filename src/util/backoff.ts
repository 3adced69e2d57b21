/**
 * Reconnect backoff, as the original library: `min(2^attempt + jitter, max)` seconds, jitter uniform in [0, 1).
 * `attempt` counts failures so far, from 0: 1–2 s, 2–3 s, 4–5 s, … up to `max`.
 *
 * @example
 * await sleep(backoffSeconds(failures++, broker.maxBackoff) * 1000);
 */
export function backoffSeconds(attempt: number, max: number, random: () => number = Math.random): number {
  return Math.min(2 ** Math.max(0, attempt) + random(), max);
}

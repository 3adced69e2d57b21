/**
 * How long to wait before the next try. Two shapes, each with one use:
 *
 * - `backoffSeconds`: reconnecting to the broker, as django-outbox-pattern's DEFAULT_MAXIMUM_BACKOFF did:
 *   `min(2^attempt + jitter, max)`, jitter uniform in [0, 1): 1–2 s, 2–3 s, 4–5 s, … up to `max`.
 * - `jitteredSeconds`: everything else (database retries, a row's next attempt): `min(base · 2^attempt, max)`
 *   times a random factor in [0.5, 1], so many waiters that failed together do not come back together.
 *
 * `attempt` counts failures so far, from 0.
 *
 * @example
 * await sleep(backoffSeconds(failures++, broker.maxBackoff) * 1000);
 */
export function backoffSeconds(attempt: number, max: number, random: () => number = Math.random): number {
  return Math.min(2 ** Math.max(0, attempt) + random(), max);
}

export function jitteredSeconds(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  return Math.min(base * 2 ** Math.max(0, attempt), max) * (0.5 + random() / 2);
}

/**
 * A circuit breaker per destination. When the broker refuses a destination (an ERROR blamed on one of its
 * rows), RabbitMQ closes the whole connection and every send in flight beside it fails too; sending that
 * destination's other rows again would kill each new connection the same way and resend the healthy rows
 * around them. So once a destination is blamed the relay holds its rows (not sent, attempt not counted)
 * until the breaker's backoff runs out, then lets ONE row through as a probe, sent alone on the
 * connection (nothing in flight beside it, so a refusal has no bystanders). A confirmed probe closes the
 * breaker; a refused one opens it again for longer.
 *
 * Times here are this process's own monotonic clock: they decide only when this relay tries again, and are
 * never compared with the database's.
 */
import { performance } from 'node:perf_hooks';

export type Route = 'send' | 'hold' | 'probe';

export interface Breaker {
  /** What to do with a row of `destination` now. Returns 'probe' once per opening; its result must be reported. */
  route(destination: string): Route;
  /** Seconds to hold a row of `destination` for (until its next probe is due; at least `minHold`). */
  holdSeconds(destination: string): number;
  /** The broker refused `destination`: open (again) with a longer backoff. */
  trip(destination: string): void;
  /** The probe's outcome: confirmed → closed; otherwise due again after the current backoff. */
  probed(destination: string, confirmed: boolean): void;
}

export function createBreaker(options: {
  /** Seconds: the backoff after the n-th consecutive refusal is min(base · 2^(n−1), max). */
  base: number;
  max: number;
  /** Held rows come back no sooner than this, in seconds, so a held destination costs no busy claims. */
  minHold?: number;
  now?: () => number;
}): Breaker {
  const now = options.now ?? (() => performance.now());
  const minHold = options.minHold ?? 0.5;
  const states = new Map<string, { refusals: number; until: number; probing: boolean }>();
  const backoffMs = (refusals: number) => Math.min(options.base * 2 ** Math.max(refusals - 1, 0), options.max) * 1000;

  return {
    route(destination) {
      const s = states.get(destination);
      if (!s) return 'send';
      if (s.probing || now() < s.until) return 'hold';
      s.probing = true;
      return 'probe';
    },
    holdSeconds(destination) {
      const s = states.get(destination);
      const left = s ? (s.probing ? backoffMs(s.refusals) : s.until - now()) / 1000 : 0;
      return Math.max(left, minHold);
    },
    trip(destination) {
      const s = states.get(destination) ?? { refusals: 0, until: 0, probing: false };
      s.refusals++;
      s.until = now() + backoffMs(s.refusals);
      s.probing = false;
      states.set(destination, s);
    },
    probed(destination, confirmed) {
      const s = states.get(destination);
      if (!s) return;
      if (confirmed) {
        states.delete(destination);
        return;
      }
      // Failed without the broker refusing it (a dropped connection, a receipt timeout): try again after
      // the same backoff. A refusal also trips, which lengthens it.
      s.probing = false;
      s.until = Math.max(s.until, now() + backoffMs(s.refusals));
    },
  };
}

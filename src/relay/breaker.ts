/**
 * A circuit breaker per destination. RabbitMQ answers a refused destination (a /queue/ declared with other
 * arguments, a missing exchange) with an ERROR and closes the whole connection, failing every send in
 * flight beside it. So once the broker has refused a destination, its rows no longer go out on the relay's
 * connection: they are held (not sent, attempt given back) until the destination's next probe, and then ONE
 * row goes alone, on a connection of its own (./prober.ts), so that a refusal kills nothing else. A
 * confirmed probe closes the breaker; a refused one opens it again for longer. A destination that was in
 * flight when the broker refused something it did not name is a suspect: probed at once, no backoff.
 *
 * Times here are this process's monotonic clock: they decide only when this relay tries again, and are
 * never compared with the database's.
 */
import { monotonicMs } from '../util/clock.js';

export type ProbeOutcome = 'accepted' | 'refused' | 'unknown';

export interface HeldDestination {
  destination: string;
  /** Refusals in a row (0 for a suspect not yet refused). */
  refusals: number;
  /** Seconds until its next probe is due (0: due, or out now). */
  probeIn: number;
}

export interface Breaker {
  /** True while rows of `destination` must not go out on the relay's connection. */
  isOpen(destination: string): boolean;
  /** Seconds to hold a row of `destination` for: until its next probe is due, at least `minHold`. */
  holdSeconds(destination: string): number;
  /** Claims the destination's probe if one is due and none is out; the caller must report `probed`. */
  takeProbe(destination: string): boolean;
  /** The broker refused `destination`: open (again), with a longer backoff. */
  trip(destination: string): void;
  /** In flight when the broker refused something it did not name: probe it before sending more of it. */
  suspect(destination: string): void;
  /** A probe's outcome. `unknown`: no verdict (the connection was lost): due again after the same backoff. */
  probed(destination: string, outcome: ProbeOutcome): void;
  /** Destinations held now (for logs and `outbox status`). */
  held(): HeldDestination[];
}

export function createBreaker(options: {
  /** Seconds: the backoff after the n-th consecutive refusal is min(base · 2^(n−1), max). */
  base: number;
  max: number;
  /** Held rows come back no sooner than this, in seconds, so a held destination costs no busy claims. */
  minHold?: number;
  now?: () => number;
}): Breaker {
  const now = options.now ?? monotonicMs;
  const minHold = options.minHold ?? 0.5;
  const states = new Map<string, { refusals: number; until: number; probing: boolean }>();
  const backoffMs = (refusals: number) => Math.min(options.base * 2 ** Math.max(refusals - 1, 0), options.max) * 1000;

  function trip(destination: string): void {
    const s = states.get(destination) ?? { refusals: 0, until: 0, probing: false };
    s.refusals++;
    s.until = now() + backoffMs(s.refusals);
    s.probing = false;
    states.set(destination, s);
  }

  return {
    isOpen(destination) {
      return states.has(destination);
    },
    holdSeconds(destination) {
      const s = states.get(destination);
      const left = s ? (s.probing ? backoffMs(s.refusals) : s.until - now()) / 1000 : 0;
      return Math.max(left, minHold);
    },
    takeProbe(destination) {
      const s = states.get(destination);
      if (!s || s.probing || now() < s.until) return false;
      s.probing = true;
      return true;
    },
    trip,
    suspect(destination) {
      if (!states.has(destination)) states.set(destination, { refusals: 0, until: 0, probing: false });
    },
    probed(destination, outcome) {
      const s = states.get(destination);
      if (!s) return;
      if (outcome === 'accepted') return void states.delete(destination);
      if (outcome === 'refused') return trip(destination);
      s.probing = false;
      s.until = Math.max(s.until, now() + backoffMs(s.refusals));
    },
    held() {
      const at = now();
      return [...states].map(([destination, s]) => ({ destination, refusals: s.refusals, probeIn: s.probing ? 0 : Math.max(0, (s.until - at) / 1000) }));
    },
  };
}

/**
 * Whether a claim also runs the keyed claim (./keyed-sql.ts). Beside the unordered claim it is a second
 * statement on a second connection, parsed and planned each time; while only unordered rows stream in full
 * batches it finds nothing. So it runs with every claim while it finds keyed rows, or while the unordered claims
 * are not full (the relay has time to spare, and a keyed row's latency matters), and otherwise at most every
 * KEYED_EVERY_MS. (Measured: this alone did not move unordered throughput on two cores — 0.93× the code before
 * ordering either way; the difference came from elsewhere, see scripts/bench/README.md "Ordering".)
 */
import { monotonicMs } from '../util/clock.js';

/** While unordered rows come in full batches and no keyed row was found, look for keyed rows this often, ms. */
export const KEYED_EVERY_MS = 50;

export interface KeyedPace {
  /** Whether this claim should include the keyed claim. */
  due(): boolean;
  /** The keyed claim found `found` rows; the unordered claim beside it was `full`. */
  claimed(found: number, full: boolean): void;
}

export function createKeyedPace(now: () => number = monotonicMs): KeyedPace {
  let busy = true;
  let lastAt = -Infinity;
  return {
    due() {
      return busy || now() - lastAt >= KEYED_EVERY_MS;
    },
    claimed(found, full) {
      lastAt = now();
      busy = found > 0 || !full;
    },
  };
}

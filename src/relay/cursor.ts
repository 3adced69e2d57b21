/**
 * Where a claim starts its walk of the pending index `(seq, next_attempt_at) WHERE status = 'pending'`.
 *
 * Starting every claim at the lowest `seq` made its cost grow with the table: it stepped over every row
 * waiting out a backoff ahead of the due ones (1M of them: 17.5 ms and 7,100 buffers a claim instead of
 * 3 ms), and over the dead index entries every row just sent leaves until vacuum runs (a 1M-row drain slowed
 * from 10 ms to 34–40 ms a claim). So a claim starts just below the highest `seq` this relay has claimed:
 * `LOOKBACK` rows back, for transactions that took their `seq` earlier but committed later than the rows
 * claimed since. Everything behind that — rows whose backoff ended, rows released or held, rows another
 * relay skipped, a transaction that committed very late — is found by a rescan from the start once per
 * `rescanMs` (relay.pollInterval): a sweep of claims from `seq` 0, each starting after the last, until a
 * claim comes back short. No due row waits longer than one rescan period for it.
 */
import { monotonicMs } from '../util/clock.js';

/** Rows below the highest claimed `seq` a claim still looks at: late commits within it are sent at once. */
export const LOOKBACK = 1000;

export interface ClaimCursor {
  /** The `seq` the next claim starts after (0: from the start). */
  next(): number;
  /** What the claim that started after `after` took, and whether it was a full batch. */
  claimed(after: number, seqs: number[], full: boolean): void;
  /** Rows behind the cursor just became due (released, taken over): rescan at the next claim. */
  rewind(): void;
}

export function createClaimCursor(options: { rescanMs: number; now?: () => number }): ClaimCursor {
  const now = options.now ?? monotonicMs;
  let highest = 0;
  let rescannedAt = -Infinity;
  // The position of a rescan sweep under way, or null.
  let sweep: number | null = null;

  return {
    next() {
      if (sweep !== null) return sweep;
      if (now() - rescannedAt >= options.rescanMs) {
        rescannedAt = now();
        sweep = 0;
        return 0;
      }
      return Math.max(0, highest - LOOKBACK);
    },
    claimed(after, seqs, full) {
      let top = after;
      for (const seq of seqs) if (seq > top) top = seq;
      if (top > highest) highest = top;
      if (sweep !== null && after === sweep) sweep = full ? top : null;
    },
    rewind() {
      rescannedAt = -Infinity;
    },
  };
}

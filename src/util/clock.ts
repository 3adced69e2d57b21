/**
 * Elapsed time for timers: a monotonic clock, so a wall-clock step (NTP, a VM resumed) can neither skip a
 * lease extension nor fire a heart-beat timeout. `Date.now()` is for timestamps people read, never for
 * measuring how long something took.
 */
import { performance } from 'node:perf_hooks';

/** Milliseconds on a monotonic clock (only differences mean anything). */
export const monotonicMs = (): number => performance.now();

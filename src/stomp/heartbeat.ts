/**
 * Heart-beats (spec, "Heart-beating"): negotiation, sending EOLs when we have been quiet, and noticing a
 * silent peer. Any byte counts as life in either direction.
 */
import { monotonicMs } from '../util/clock.js';

export interface HeartbeatPeriods {
  /** We send something at least every this many ms (0: never). */
  send: number;
  /** We expect something at least every this many ms (0: not checked). */
  receive: number;
}

/**
 * The spec's maths: client→server every max(cx, sy) unless either is 0; server→client every max(sx, cy)
 * unless either is 0. `ours` is what we put in CONNECT, `theirs` the CONNECTED header (absent = "0,0").
 */
export function negotiateHeartbeat(ours: readonly [number, number], theirs: string | undefined): HeartbeatPeriods {
  const [cx, cy] = ours;
  const [sx, sy] = parseHeartbeat(theirs);
  return {
    send: cx === 0 || sy === 0 ? 0 : Math.max(cx, sy),
    receive: cy === 0 || sx === 0 ? 0 : Math.max(cy, sx),
  };
}

/** `"10000,5000"` → [10000, 5000]; missing or malformed values count as 0 (no heart-beats). */
export function parseHeartbeat(header: string | undefined): [number, number] {
  if (!header) return [0, 0];
  const [a, b] = header.split(',').map((part) => {
    const n = Number(part.trim());
    return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  });
  return [a ?? 0, b ?? 0];
}

/** How many receive periods of silence we tolerate: the spec allows for timing error, networks add more. */
export const SILENCE_MARGIN = 2;

export interface HeartbeatMonitor {
  /** Call on every write (frames or heart-beats). */
  wrote(): void;
  /** Call on every chunk received. */
  read(): void;
  stop(): void;
}

/**
 * Starts the timers. `beat` writes one EOL; `silent` is called once when the peer has said nothing
 * for SILENCE_MARGIN × the receive period.
 */
export function startHeartbeat(periods: HeartbeatPeriods, beat: () => void, silent: (ms: number) => void): HeartbeatMonitor {
  let wroteSinceTick = false;
  let lastRead = monotonicMs();
  const timers: NodeJS.Timeout[] = [];
  if (periods.send > 0) {
    // Ticking at half the period bounds the gap between writes by the period.
    timers.push(setInterval(() => {
      if (!wroteSinceTick) beat();
      wroteSinceTick = false;
    }, Math.max(1, Math.floor(periods.send / 2))));
  }
  if (periods.receive > 0) {
    const limit = periods.receive * SILENCE_MARGIN;
    const tick = Math.max(1, Math.floor(periods.receive / 2));
    let lastTick = monotonicMs();
    timers.push(setInterval(() => {
      const now = monotonicMs();
      const late = now - lastTick > 2 * tick;
      lastTick = now;
      if (late) {
        // Our own event loop was blocked (a long synchronous task, a starved machine): timers run before
        // pending socket reads, so the peer's bytes may be waiting unread. Silence is only measured while
        // we were awake to hear: give the peer one more tick from now.
        lastRead = Math.max(lastRead, now - limit + tick);
        return;
      }
      const quiet = now - lastRead;
      if (quiet > limit) silent(quiet);
    }, tick));
  }
  for (const t of timers) t.unref();
  return {
    wrote: () => { wroteSinceTick = true; },
    read: () => { lastRead = monotonicMs(); },
    stop: () => { for (const t of timers) clearInterval(t); },
  };
}

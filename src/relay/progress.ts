/**
 * One line per `relay.progressInterval` that a person can follow:
 *   sent 12,400 in 10 s (1,240 msg/s) · backlog 3,100 pending, oldest 4.2 s · failed 0
 * An idle relay says so once, then stays quiet until something happens.
 */
import { logFields, type Logger } from '../log/logger.js';
import { describeDbError } from '../db/errors.js';
import type { Backlog } from './sql.js';
import { formatAge } from '../util/time.js';
import { monotonicMs } from '../util/clock.js';

export interface Progress {
  sent(count: number): void;
  failed(count: number): void;
  start(): void;
  stop(): void;
  /** Totals since start. */
  readonly totals: { sent: number; failed: number };
}

const n = (x: number) => x.toLocaleString('en-US');

export function createProgress(options: { backlog(): Promise<Backlog>; logger: Logger; intervalSeconds: number }): Progress {
  const { logger, intervalSeconds } = options;
  const totals = { sent: 0, failed: 0 };
  let sentSince = 0;
  let failedSince = 0;
  let last = monotonicMs();
  let wasIdle = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;

  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const now = monotonicMs();
      const seconds = (now - last) / 1000;
      const sent = sentSince;
      const failed = failedSince;
      sentSince = failedSince = 0;
      last = now;
      let backlog: Backlog | undefined;
      try {
        backlog = await options.backlog();
      } catch (error) {
        // The claim loop already reports the outage; say nothing more unless something moved.
        if (sent === 0 && failed === 0) return;
        logger.warn(`progress: cannot read the backlog (${describeDbError(error)})`);
      }
      const idle = sent === 0 && failed === 0 && backlog?.pending === 0;
      if (idle && wasIdle) return;
      wasIdle = idle;
      const rate = seconds > 0 ? Math.round(sent / seconds) : 0;
      const queue = backlog ? `backlog ${n(backlog.pending)} pending${backlog.pending ? `, oldest ${formatAge(backlog.oldestAge)}` : ''}` : 'backlog unknown';
      logger.info(
        idle
          ? `idle: nothing pending (${n(totals.sent)} sent since start)`
          : `sent ${n(sent)} in ${Math.round(seconds)} s (${n(rate)} msg/s) · ${queue} · failed ${n(failed)}${totals.failed ? ` (${n(totals.failed)} since start)` : ''}`,
        logFields({ count: sent, rate, pending: backlog?.pending, oldest_age_s: backlog?.oldestAge ?? undefined, failed }),
      );
    } finally {
      ticking = false;
    }
  }

  return {
    sent(count) {
      sentSince += count;
      totals.sent += count;
    },
    failed(count) {
      failedSince += count;
      totals.failed += count;
    },
    start() {
      if (intervalSeconds <= 0 || timer) return;
      last = monotonicMs();
      timer = setInterval(() => void tick(), intervalSeconds * 1000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
    get totals() {
      return { ...totals };
    },
  };
}

/**
 * The relay's alarm clock: LISTEN on the outbox channel wakes it within milliseconds of a commit (the insert
 * trigger NOTIFYs while a relay is listed as asleep, see ./idle.ts); a poll timer is the fallback, because
 * notifications are lost while the listening connection reconnects, a commit can race the listing, and rows
 * waiting out a backoff get no notification at all. The table stays the source of truth: a wake-up only
 * means "look again".
 */
import { listen } from '../db/listen.js';
import type { OutboxDb } from '../db/types.js';
import type { Logger } from '../log/logger.js';

export interface Wake {
  /** Starts listening (failures are logged; polling still works). */
  start(): Promise<void>;
  /** True once LISTEN is in place: only then is it worth asking producers to NOTIFY. */
  readonly listening: boolean;
  /** Forget earlier wake-ups: call right before looking at the table. */
  clear(): void;
  /** Resolves at the first wake-up since `clear()`, after `ms`, or on abort, whichever comes first. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  /** Wake the waiter now (a NOTIFY, a re-queue, a lost connection). */
  poke(): void;
  stop(): Promise<void>;
}

export function createWake(options: { db: OutboxDb; channel: string; logger: Logger; retryMs?: number }): Wake {
  const { db, channel, logger } = options;
  let poked = false;
  let waiter: (() => void) | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = options.retryMs ?? 1000;

  const poke = () => {
    poked = true;
    waiter?.();
  };

  async function start(): Promise<void> {
    if (stopped) return;
    try {
      unlisten = await listen(db, channel, poke);
      if (!unlisten) logger.info(`this database driver cannot LISTEN: polling only`);
      retryMs = options.retryMs ?? 1000;
    } catch (error) {
      // The database may be down at start-up: poll meanwhile and try to listen again later.
      logger.warn(`cannot LISTEN on "${channel}" (${(error as Error).message}); polling, retrying in ${retryMs / 1000} s`);
      retryTimer = setTimeout(() => void start(), retryMs);
      retryTimer.unref();
      retryMs = Math.min(retryMs * 2, 60_000);
    }
  }

  return {
    start,
    get listening() {
      return unlisten !== undefined;
    },
    clear() {
      poked = false;
    },
    wait(ms, signal) {
      if (poked || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        waiter = done;
      });
    },
    poke,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      waiter?.();
      const u = unlisten;
      unlisten = undefined;
      await u?.().catch(() => {});
    },
  };
}

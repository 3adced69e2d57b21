/**
 * The relay's alarm clock: LISTEN on the outbox channel wakes it within milliseconds of a commit (the insert
 * trigger NOTIFYs while a relay is listed as asleep, see ./idle.ts); a poll timer is the fallback, because
 * notifications are lost while the listening connection reconnects, a commit can race the listing, and rows
 * waiting out a backoff get no notification at all. The table stays the source of truth: a wake-up only
 * means "look again".
 */
import { describeDbError } from '../db/errors.js';
import { listen } from '../db/listen.js';
import { databaseRetry, retry } from '../util/retry.js';
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

export function createWake(options: { db: OutboxDb; channel: string; logger: Logger; maxBackoff?: number }): Wake {
  const { db, channel, logger } = options;
  let poked = false;
  let waiter: (() => void) | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  const stopped = new AbortController();
  let starting: Promise<void> | undefined;

  const poke = () => {
    poked = true;
    waiter?.();
  };

  const handlers = {
    onNotify: poke,
    // Listening again means the database answers again: whoever waits out a database backoff looks now.
    onReconnect: poke,
    onLost: () => logger.debug(`the LISTEN connection for "${channel}" was lost; listening again when the database answers`),
  };

  /**
   * Starts listening. The database may be down at start-up: then it keeps trying in the background, with
   * the database backoff, and the relay polls meanwhile.
   */
  function start(): Promise<void> {
    const first = (async () => {
      try {
        unlisten = await listen(db, channel, handlers);
        if (!unlisten) logger.info(`this database driver cannot LISTEN: polling only`);
        return true;
      } catch (error) {
        logger.warn(`cannot LISTEN on "${channel}" yet (${describeDbError(error)}); polling meanwhile`);
        return false;
      }
    })();
    starting = first.then(async (ok) => {
      if (ok || stopped.signal.aborted) return;
      try {
        unlisten = await retry(() => listen(db, channel, handlers), { policy: databaseRetry(options.maxBackoff ?? 30), signal: stopped.signal });
        logger.info(`listening on "${channel}"`);
        poke();
      } catch {
        /* stopped */
      }
    });
    return first.then(() => undefined);
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
      stopped.abort();
      await starting;
      waiter?.();
      const u = unlisten;
      unlisten = undefined;
      await u?.().catch(() => {});
    },
  };
}

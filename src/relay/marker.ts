/**
 * Marks rows `sent` in bulk as their RECEIPTs arrive, off the send path: sending goes on while a mark
 * statement runs, and every statement takes all the ids that arrived meanwhile (group-commit style),
 * after a short coalescing delay unless a full batch is already waiting.
 * A failed mark keeps its ids and retries with the database backoff; the rows stay leased meanwhile, so at
 * worst they are sent again after the lease (at-least-once), never lost.
 */
import { describeDbError } from '../db/errors.js';
import type { Logger } from '../log/logger.js';
import { databaseRetry, retry, RetryAborted } from '../util/retry.js';

export interface Marker {
  /** A RECEIPT arrived for this row (`keyed`: a row with an ordering key, whose mark frees the key's next row). */
  add(id: string, keyed?: boolean): void;
  /** Ids received but not yet marked (buffered or being written). */
  readonly backlog: number;
  /** Resolves once every id added so far is marked (or the marker was stopped). */
  settled(): Promise<void>;
  /** Marks everything added so far, without the coalescing delay (a retry waiting is cut short). */
  flush(): Promise<void>;
  /** Stops retrying; what is left stays leased and is resent after the lease. */
  stop(): void;
}

/** Wait this long for more ids before a mark that is not yet a full batch, ms. */
const COALESCE_MS = 2;

export function createMarker(options: {
  markSent(ids: string[], keyed: boolean): Promise<void>;
  logger: Logger;
  /** Mark at once when this many ids are waiting. */
  batchSize: number;
  /** Cap of the backoff between retries of a failed mark, seconds (`database.maxBackoff`). */
  maxBackoff?: number;
  /** Called after each successful mark with the number of rows. */
  onMarked?(count: number): void;
}): Marker {
  const { markSent, logger, batchSize } = options;
  const policy = databaseRetry(options.maxBackoff ?? 30);
  let buffer: string[] = [];
  // Whether the buffer holds a keyed row: only then does a mark take the keyed statement.
  let bufferKeyed = false;
  let writing = 0;
  let running: Promise<void> | undefined;
  const stopped = new AbortController();
  // Ends the current wait early (a full batch arrived, a flush, a stop).
  let hurry: (() => void) | undefined;
  let urgent = false;
  // Ids are written in the order they were added (a failed write puts its ids back in front), so
  // "everything added before now is marked" is simply written >= added-at-the-time.
  let added = 0;
  let written = 0;
  let waiters: Array<{ target: number; resolve: () => void }> = [];
  const notify = () => {
    waiters = waiters.filter((w) => (written >= w.target || stopped.signal.aborted ? (w.resolve(), false) : true));
  };
  const wakeUp = () => hurry?.();
  // A plain timer with a wake-up: this runs every few ms, and a combined AbortSignal per wait would pile up
  // on the long-lived stop signal.
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        hurry = undefined;
        resolve();
      }
      hurry = done;
    });

  async function loop(): Promise<void> {
    while (buffer.length > 0 && !stopped.signal.aborted) {
      if (!urgent && buffer.length < batchSize) await nap(COALESCE_MS);
      const ids = buffer;
      const keyed = bufferKeyed;
      buffer = [];
      bufferKeyed = false;
      writing = ids.length;
      try {
        await retry(() => markSent(ids, keyed), {
          policy,
          signal: stopped.signal,
          onRetry: (error, _attempt, delay) => logger.warn(`cannot mark ${ids.length} rows sent (${describeDbError(error)}); retrying in ${delay.toFixed(1)} s`),
          wake: (ms) => nap(ms),
        });
        written += ids.length;
        notify();
        options.onMarked?.(ids.length);
      } catch (error) {
        if (!(error instanceof RetryAborted)) throw error;
        buffer = ids.concat(buffer);
        bufferKeyed ||= keyed;
      } finally {
        writing = 0;
      }
    }
  }

  const kick = () => {
    running ??= loop().finally(() => {
      running = undefined;
      if (buffer.length > 0 && !stopped.signal.aborted) kick();
    });
    return running;
  };

  return {
    add(id, keyed = false) {
      added++;
      buffer.push(id);
      if (keyed) bufferKeyed = true;
      if (buffer.length >= batchSize) wakeUp();
      void kick();
    },
    get backlog() {
      return buffer.length + writing;
    },
    settled() {
      if (written >= added || stopped.signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ target: added, resolve }));
    },
    async flush() {
      urgent = true;
      wakeUp();
      try {
        while (running || (buffer.length > 0 && !stopped.signal.aborted)) await kick();
      } finally {
        urgent = false;
      }
    },
    stop() {
      stopped.abort();
      wakeUp();
      notify();
    },
  };
}

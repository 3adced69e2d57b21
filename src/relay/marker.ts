/**
 * Marks rows `sent` in bulk as their RECEIPTs arrive, off the send path: sending goes on while a mark
 * statement runs, and every statement takes all the ids that arrived meanwhile (group-commit style),
 * after a short coalescing delay unless a full batch is already waiting.
 * A failed mark keeps its ids and retries with backoff; the rows stay leased meanwhile, so at worst they
 * are sent again after the lease (at-least-once), never lost.
 */
import type { Logger } from '../log/logger.js';
import { describeDbError } from '../db/errors.js';

export interface Marker {
  /** A RECEIPT arrived for this row. */
  add(id: string): void;
  /** Ids received but not yet marked (buffered or being written). */
  readonly backlog: number;
  /** Resolves once every id added so far is marked (or the marker was stopped). */
  settled(): Promise<void>;
  /** Marks everything added so far, without the coalescing delay. Rejects only if `stop()` gave up. */
  flush(): Promise<void>;
  /** Stops retrying; what is left stays leased and is resent after the lease. */
  stop(): void;
}

export function createMarker(options: {
  markSent(ids: string[]): Promise<void>;
  logger: Logger;
  /** Mark at once when this many ids are waiting. */
  batchSize: number;
  /** Otherwise wait this long for more, ms. */
  delayMs?: number;
  /** Called after each successful mark with the number of rows. */
  onMarked?(count: number): void;
}): Marker {
  const { markSent, logger, batchSize } = options;
  const delayMs = options.delayMs ?? 2;
  let buffer: string[] = [];
  let writing = 0;
  let running: Promise<void> | undefined;
  let urgent = false;
  let stopped = false;
  let wakeLoop: (() => void) | undefined;
  // Ids are written in the order they were added (a failed write puts its ids back in front), so
  // "everything added before now is marked" is simply written >= added-at-the-time.
  let added = 0;
  let written = 0;
  let waiters: Array<{ target: number; resolve: () => void }> = [];
  const notify = () => {
    waiters = waiters.filter((w) => (written >= w.target || stopped ? (w.resolve(), false) : true));
  };

  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeLoop = undefined;
        resolve();
      }
      wakeLoop = done;
    });

  async function loop(): Promise<void> {
    let failures = 0;
    while (buffer.length > 0 && !stopped) {
      if (!urgent && buffer.length < batchSize) await nap(delayMs);
      const ids = buffer;
      buffer = [];
      writing = ids.length;
      try {
        await markSent(ids);
        failures = 0;
        written += ids.length;
        notify();
        options.onMarked?.(ids.length);
      } catch (error) {
        buffer = ids.concat(buffer);
        failures++;
        const seconds = Math.min(2 ** (failures - 1), 30);
        logger.warn(`cannot mark ${ids.length} rows sent (${describeDbError(error)}); retrying in ${seconds} s`);
        await nap(seconds * 1000);
      } finally {
        writing = 0;
      }
    }
  }

  const kick = () => {
    running ??= loop().finally(() => {
      running = undefined;
      if (buffer.length > 0 && !stopped) kick();
    });
    return running;
  };

  return {
    add(id) {
      added++;
      buffer.push(id);
      if (buffer.length >= batchSize) wakeLoop?.();
      void kick();
    },
    get backlog() {
      return buffer.length + writing;
    },
    settled() {
      if (written >= added || stopped) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ target: added, resolve }));
    },
    async flush() {
      urgent = true;
      wakeLoop?.();
      try {
        while (running || (buffer.length > 0 && !stopped)) await kick();
      } finally {
        urgent = false;
      }
    },
    stop() {
      stopped = true;
      wakeLoop?.();
      notify();
    },
  };
}

/**
 * The rows this relay has claimed and not yet settled, batch by batch, and the lease extension that keeps
 * them leased while their receipts are awaited. A slow broker (a memory alarm holds confirms back) or a
 * full send window can keep a row unconfirmed past `relay.leaseTimeout`; without an extension the lease
 * would run out and a claim (another relay's, or this one's) would send the row a second time.
 *
 * Every `lease / 3` seconds, batches leased more than `lease / 3` ago are leased again for `lease` seconds in
 * one UPDATE guarded by ownership (id + attempts as claimed), so a stale relay extends nothing it lost.
 */
import type { Logger } from '../log/logger.js';
import { describeDbError } from '../db/errors.js';
import type { Claim, RelayStatements } from './sql.js';
import { monotonicMs } from '../util/clock.js';

export interface Leases {
  /** A batch was claimed; returns its handle for `settle`. */
  add(rows: Claim[]): object;
  /** The batch's rows are all marked, failed, released or held: stop extending them. */
  settle(batch: object): void;
  /** Ids claimed and not settled: the next claim must skip them. */
  ids(): string[];
  start(): void;
  stop(): void;
}

export function createLeases(options: { extend: RelayStatements['extend']; leaseSeconds: number; logger: Logger }): Leases {
  const { extend, leaseSeconds, logger } = options;
  const batches = new Map<object, { rows: Claim[]; leasedAt: number }>();
  const every = (leaseSeconds * 1000) / 3;
  let timer: NodeJS.Timeout | undefined;
  let extending = false;

  async function tick(): Promise<void> {
    if (extending) return;
    const due = [...batches.values()].filter((b) => monotonicMs() - b.leasedAt >= every);
    if (due.length === 0) return;
    extending = true;
    const at = monotonicMs();
    try {
      await extend(due.flatMap((b) => b.rows), leaseSeconds);
      for (const b of due) b.leasedAt = at;
    } catch (error) {
      logger.warn(`cannot extend the lease of ${due.reduce((n, b) => n + b.rows.length, 0)} rows awaiting their receipt (${describeDbError(error)})`);
    } finally {
      extending = false;
    }
  }

  return {
    add(rows) {
      const batch = {};
      batches.set(batch, { rows, leasedAt: monotonicMs() });
      return batch;
    },
    settle(batch) {
      batches.delete(batch);
    },
    ids() {
      const ids: string[] = [];
      for (const b of batches.values()) for (const r of b.rows) ids.push(r.id);
      return ids;
    },
    start() {
      timer ??= setInterval(() => void tick(), Math.max(every, 50));
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}

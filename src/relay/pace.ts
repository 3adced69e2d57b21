/**
 * When the relay looks at the table again, and whether producers should NOTIFY it (README "How relays wake up").
 *
 * A NOTIFY costs the producer that sends it: Postgres holds a database-wide lock from the NOTIFY through the
 * commit's WAL flush, so notifying transactions commit one at a time. It is worth paying only while a relay
 * is asleep. The relay is in one of three states after each claim:
 *
 *   busy      the claim was full: claim again at once. Not listed: producers don't notify.
 *   trickle   rows keep coming, a few per claim: look again every TICK_MS. Not listed.
 *   asleep    nothing came for QUIET_TICKS looks: listed in the idle table, so the insert trigger notifies;
 *             sleep until a NOTIFY or relay.pollInterval. When the NOTIFYs bring more than TRICKLE_RATE
 *             rows a second (measured over RATE_WINDOW_MS), their cost to producers starts to show, and
 *             a poll every TICK_MS finds enough rows each time: unlist and poll instead.
 *
 * Listing has a race: a producer whose trigger ran before the listing was visible sends no NOTIFY. So the
 * relay looks again right after listing (commits before that are seen) and once more TICK_MS later (the
 * usual insert-to-commit gap); a producer that commits later still is picked up by the next NOTIFY of any
 * other commit, or by the poll, relay.pollInterval at most after it committed. Rows are the truth: the
 * policy only decides how soon the relay looks, never whether it does.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { describeDbError, isForbidden, isSchemaMissing } from '../db/errors.js';
import type { IdleStatements } from './idle-sql.js';
import type { Wake } from './wake.js';
import { monotonicMs } from '../util/clock.js';

/** How often a relay looks while rows trickle in, ms: the latency bound in that state. */
export const TICK_MS = 5;
/** Empty looks in a row before the relay lists itself and sleeps. */
export const QUIET_TICKS = 3;
/** Rows a second, arriving through NOTIFYs, above which an asleep relay polls instead. */
export const TRICKLE_RATE = 500;
/** The window over which that rate is measured, ms. */
export const RATE_WINDOW_MS = 20;
/** A listing lasts 2 × pollInterval + this, seconds: renewed about every pollInterval, never during a sleep. */
const LISTING_SLACK = 5;
/** After a failed listing because the table is missing or forbidden, try again this much later, ms. */
const RETRY_LISTING_MS = 60_000;

export interface Pace {
  /** Waits as the state after a claim of `claimed` rows requires; returns when the relay should claim again. */
  after(claimed: number, signal: AbortSignal): Promise<void>;
  /** True while this relay's listing should still be in the idle table. */
  readonly listed: boolean;
  /** Removes the listing (stopping); never rejects. */
  stop(): Promise<void>;
}

export interface PaceOptions {
  statements: IdleStatements;
  wake: Wake;
  batchSize: number;
  /** relay.pollInterval, seconds. */
  pollInterval: number;
  logger: Logger;
  /** Test seam: the relay's id in the idle table. */
  relayId?: string;
}

export function createPace(options: PaceOptions): Pace {
  const { statements, wake, batchSize, logger } = options;
  const relayId = options.relayId ?? randomUUID();
  const pollMs = options.pollInterval * 1000;
  const tickMs = Math.min(TICK_MS, pollMs);
  const listingSeconds = 2 * options.pollInterval + LISTING_SLACK;
  // Local, conservative estimate of when the listing lapses (the database's now() is later than our start).
  let listedUntil = 0;
  let emptyLooks = 0;
  // Rows claimed while listed, since windowStart.
  let windowRows = 0;
  let windowStart = 0;
  let secondLook = false;
  let listingBlockedUntil = 0;

  const isListed = () => listedUntil > monotonicMs();

  async function list(): Promise<boolean> {
    const started = monotonicMs();
    try {
      await statements.list(relayId, listingSeconds);
      listedUntil = started + listingSeconds * 1000;
      return true;
    } catch (error) {
      listedUntil = 0;
      if (isSchemaMissing(error) || isForbidden(error)) {
        listingBlockedUntil = monotonicMs() + RETRY_LISTING_MS;
        logger.warn(
          `cannot list this relay as idle (${describeDbError(error)}): run \`outbox migrate\` (or grant the relay's role ` +
            `insert, update, delete on the idle table). Until then it wakes only when producers notify anyway, or every pollInterval`,
        );
      } else {
        logger.debug(`cannot list this relay as idle (${describeDbError(error)})`);
      }
      return false;
    }
  }

  async function unlist(): Promise<void> {
    if (listedUntil === 0) return;
    listedUntil = 0;
    secondLook = false;
    // If this fails the listing lapses by itself; until then producers notify for nothing, harmlessly.
    await statements.unlist(relayId).catch((error: unknown) => logger.debug(`cannot unlist this relay (${describeDbError(error)})`));
  }

  /** True when the rows claimed while listed came faster than TRICKLE_RATE over the last window. */
  function trickling(claimed: number): boolean {
    windowRows += claimed;
    const elapsed = monotonicMs() - windowStart;
    if (elapsed < RATE_WINDOW_MS) return false;
    const fast = windowRows * 1000 > TRICKLE_RATE * elapsed;
    windowRows = 0;
    windowStart = monotonicMs();
    return fast;
  }

  return {
    get listed() {
      return isListed();
    },
    async after(claimed, signal) {
      if (claimed >= batchSize) {
        // Busy: producers need not notify, the next claim is now.
        emptyLooks = 0;
        return unlist();
      }
      if (!wake.listening || monotonicMs() < listingBlockedUntil) {
        // Nobody would hear a NOTIFY through us (or we cannot list): sleep as a relay without the idle table did.
        return wake.wait(pollMs, signal);
      }
      if (listedUntil === 0) {
        emptyLooks = claimed > 0 ? 0 : emptyLooks + 1;
        if (emptyLooks < QUIET_TICKS) return wake.wait(tickMs, signal);
        emptyLooks = 0;
        windowRows = 0;
        windowStart = monotonicMs();
        // Quiet: list, then claim again at once, for commits whose trigger ran before the listing was visible.
        if (await list()) {
          secondLook = true;
          return;
        }
        return wake.wait(pollMs, signal);
      }
      if (secondLook) {
        // One more look a tick later, for transactions that were between their insert and their commit.
        secondLook = false;
        return wake.wait(tickMs, signal);
      }
      if (trickling(claimed)) {
        // Rows come fast enough that polling every tick finds some each time: stop the producers' NOTIFYs.
        await unlist();
        return wake.wait(tickMs, signal);
      }
      if (listedUntil - monotonicMs() < pollMs + 2 * 1000) {
        // Renew before the listing could lapse during the next sleep. If it already lapsed (a stall), commits
        // meanwhile did not notify: look again first.
        const lapsed = !isListed();
        if (!(await list())) return wake.wait(pollMs, signal);
        if (lapsed) {
          secondLook = true;
          return;
        }
      }
      return wake.wait(pollMs, signal);
    },
    async stop() {
      await unlist();
    },
  };
}

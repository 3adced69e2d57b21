/**
 * Collects sends that ended without a RECEIPT and writes their fate. The STOMP client fails all pending
 * receipts of a connection in one go, so failures are gathered for one turn of the event loop and judged
 * together (`attribute`): the culprit gets a failed attempt with backoff, bystanders are released.
 */
import { logFields, type Logger } from '../log/logger.js';
import { describeDbError } from '../db/errors.js';
import { retry } from '../util/retry.js';
import { isOutboxError } from '../errors.js';
import type { RelayMetrics } from '../telemetry/metrics.js';
import { attribute, brokerWords, errorMessage, type FailedSend, type Verdict } from './attribute.js';
import type { Breaker } from './breaker.js';
import type { ClaimCursor } from './cursor.js';
import type { ClaimedRow, RelayStatements, RetryPolicy } from './sql.js';

export interface FailureSink {
  add(row: ClaimedRow, error: unknown): void;
  /**
   * From now on every failure is our own shutdown: release the rows (attempt kept), blame nobody. Failures
   * added before this call are still judged as they came (a poison row must not dodge its attempt by
   * failing just before a shutdown).
   */
  shuttingDown(): void;
  /** Resolves when everything added so far is written (or given up on). */
  flush(): Promise<void>;
  /** Stop retrying failed writes (the drain's time is up): the rows come back after their lease. */
  abandon(): void;
}

const refusal = (destination: string, count: number) => logFields({ destination, count, error_code: 'E_BROKER_ERROR' });

/** A failed write of a row's fate is tried this often (0.5 s, 1 s, 2 s, 4 s apart) before it is left to the lease. */
const WRITE_TRIES = 5;

export function createFailureSink(options: {
  statements: RelayStatements;
  policy: RetryPolicy;
  logger: Logger;
  onFailed?(rows: number): void;
  /** Told when the broker refused a destination (a row of it was blamed for an ERROR): it holds the rest. */
  breaker?: Pick<Breaker, 'trip' | 'suspect' | 'holdSeconds'>;
  /** Told when released rows are due again, so the next claim looks behind its cursor. */
  cursor?: Pick<ClaimCursor, 'rewind'>;
  metrics?: Pick<RelayMetrics, 'retried' | 'failed'>;
}): FailureSink {
  const { statements, policy, logger, breaker } = options;
  let collected: Array<FailedSend<ClaimedRow> & { atShutdown: boolean }> = [];
  let scheduled = false;
  let stopping = false;
  const abandoned = new AbortController();
  let writes: Promise<void> = Promise.resolve();

  async function write(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await retry(fn, { policy: { delay: (attempt) => 2 ** attempt * 0.5, tries: WRITE_TRIES }, signal: abandoned.signal });
    } catch (error) {
      // The rows stay leased: they come back when the lease expires, with the claim's attempt counted.
      const cause = error instanceof Error && 'lastError' in error ? (error as { lastError: unknown }).lastError : error;
      logger.error(`cannot record ${what} (${describeDbError(cause)}); the rows will be retried after their lease`);
    }
  }

  function groupByMessage(entries: Array<{ row: ClaimedRow; message: string }>): Map<string, ClaimedRow[]> {
    const groups = new Map<string, ClaimedRow[]>();
    for (const { row, message } of entries) groups.set(message, [...(groups.get(message) ?? []), row]);
    return groups;
  }

  /**
   * Decides at once (so a refused destination is held before the relay reconnects), writes in turn.
   * Failures added before `shuttingDown()` are judged as they came even if judged after it.
   */
  function judge(all: Array<FailedSend<ClaimedRow> & { atShutdown: boolean }>): () => Promise<void> {
    // Our own shutdown failed these (it destroyed the connection): nobody is to blame.
    const unconfirmed = all.filter((f) => f.atShutdown).map((f) => f.row);
    const failures = all.filter((f) => !f.atShutdown);
    const verdict = attribute(failures);
    // One line per refusal, in the broker's words: what it refused, what happens to the rows.
    for (const destination of new Set(verdict.blame.filter((b) => b.refused).map((b) => b.row.destination))) {
      const blamed = verdict.blame.filter((b) => b.refused && b.row.destination === destination);
      const words = brokerWords(blamed[0]!.message);
      if (!breaker) {
        logger.warn(`the broker refused ${destination}: ${words} — ${blamed.length} row(s) charged an attempt, retried with backoff`, refusal(destination, blamed.length));
        continue;
      }
      breaker.trip(destination);
      logger.warn(
        `the broker refused ${destination}: ${words} — its rows are held (${blamed.length} charged an attempt), ` +
          `one probe on a connection of its own in ${breaker.holdSeconds(destination).toFixed(1)} s`,
        refusal(destination, blamed.length),
      );
    }
    const suspects = new Set(verdict.suspect.map((s) => s.row.destination));
    if (suspects.size > 0 && breaker) {
      for (const destination of suspects) breaker.suspect(destination);
      const cause = failures.find((f) => isOutboxError(f.error, 'E_BROKER_ERROR'));
      logger.warn(
        `the broker refused a send without naming it${cause ? ` (${brokerWords(errorMessage(cause.error))})` : ''}: ` +
          `probing ${[...suspects].join(', ')} one at a time before sending more to them`,
      );
    }
    return () => record(unconfirmed, verdict);
  }

  async function record(unconfirmed: ClaimedRow[], verdict: Verdict<ClaimedRow>): Promise<void> {
    if (unconfirmed.length) {
      logger.info(`${unconfirmed.length} sends unconfirmed at shutdown: released for the next relay (they may arrive twice)`);
      await write('the release of unconfirmed rows', () => statements.release(unconfirmed, false, 'relay stopped before the receipt'));
    }
    const refused = new Set(verdict.blame.filter((b) => b.refused).map((b) => b.row.id));
    for (const [message, rows] of groupByMessage([...verdict.blame, ...verdict.retry])) {
      const given = rows.filter((r) => r.attempts >= policy.maxAttempts);
      const destinations = [...new Set(rows.map((r) => r.destination))].join(', ');
      // A refusal was told as it was judged.
      if (!rows.every((r) => refused.has(r.id))) logger.warn(`${rows.length} send(s) to ${destinations} failed, will retry with backoff: ${message}`, logFields({ destination: destinations, count: rows.length }));
      if (given.length) {
        logger.error(`${given.length} row(s) to ${destinations} are now failed after ${policy.maxAttempts} attempts (outbox retry re-queues them)`, logFields({ destination: destinations, count: given.length }));
        options.onFailed?.(given.length);
      }
      countFates(rows, given);
      await write('a failed send', () => statements.fail(rows, message, policy));
    }
    for (const [, rows] of groupByMessage([...verdict.release, ...verdict.suspect])) {
      // The cause was told with the refusal: this says only what became of the others in flight.
      logger.info(`${rows.length} other send(s) in flight on that connection released for a prompt retry (attempt given back)`);
      await write('released rows', () => statements.release(rows, true, null));
      options.cursor?.rewind();
    }
  }

  /** Per destination: the rows given up on, and the others, which are tried again. */
  function countFates(rows: ClaimedRow[], given: ClaimedRow[]): void {
    if (!options.metrics) return;
    for (const destination of new Set(rows.map((r) => r.destination))) {
      const failed = given.filter((r) => r.destination === destination).length;
      options.metrics.failed(destination, failed);
      options.metrics.retried(destination, rows.filter((r) => r.destination === destination).length - failed);
    }
  }

  return {
    add(row, error) {
      collected.push({ row, error, atShutdown: stopping });
      if (scheduled) return;
      scheduled = true;
      // One turn later every receipt of a dead connection has been failed: judge them as one event.
      setImmediate(() => {
        scheduled = false;
        const batch = collected;
        collected = [];
        writes = writes.then(judge(batch));
      });
    },
    shuttingDown() {
      stopping = true;
    },
    abandon() {
      abandoned.abort();
    },
    async flush() {
      while (scheduled) await new Promise((r) => setImmediate(r));
      await writes;
    },
  };
}

/**
 * Probes of refused destinations, each sent alone on a broker connection of its own. RabbitMQ closes the
 * connection that carried a refused SEND, so a probe on the relay's main connection would kill every send
 * beside it and stall the healthy traffic behind one bad destination; here a refusal costs only this
 * connection, and it is unambiguous: the probe was the only send on it.
 *
 * The verdict goes to the breaker. A confirmed probe is marked sent and the destination resumes. A probe
 * that fails — refused, or not confirmed (no receipt in time, the connection dropped under it) — counts the
 * probe row's attempt and charges every other pending row of the destination one attempt too
 * (`chargeHeld`), so a held destination fails its rows after `relay.maxAttempts` failed probes: nothing
 * waits behind a breaker forever. A refusal lengthens the backoff before the next probe; a probe that got
 * no verdict is due again after the same backoff. Only our own shutdown gives a probe back untried.
 */
import { describeDbError } from '../db/errors.js';
import { isOutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RelayMetrics } from '../telemetry/metrics.js';
import { startSendSpan } from '../telemetry/trace.js';
import { createBrokerLink } from '../transport/link.js';
import type { Connector } from '../transport/types.js';
import { settledWithin } from '../util/within.js';
import { sendBody } from '../wire/body.js';
import { sendHeaders } from '../wire/headers.js';
import { brokerWords, CONNECTION_LEVEL, errorMessage } from './attribute.js';
import type { Breaker } from './breaker.js';
import type { Leases } from './leases.js';
import type { Marker } from './marker.js';
import type { ClaimedRow, RelayStatements, RetryPolicy } from './sql.js';

export interface Prober {
  /** Queues `row` as its destination's probe (the caller took the probe from the breaker). */
  probe(row: ClaimedRow): void;
  /** Probes queued or under way. */
  readonly pending: number;
  /** Gives queued probes back (attempt refunded), waits up to `timeoutMs` for the one under way, disconnects. */
  stop(timeoutMs: number): Promise<void>;
}

export interface ProberOptions {
  connect: Connector;
  breaker: Breaker;
  marker: Marker;
  leases: Leases;
  statements: Pick<RelayStatements, 'fail' | 'release' | 'chargeHeld'>;
  policy: RetryPolicy;
  logger: Logger;
  maxBackoff: number;
  onFailed?(rows: number): void;
  metrics?: RelayMetrics;
}

/** A probe connection with nothing to do for this long is closed. */
const IDLE_CLOSE_MS = 10_000;

export function createProber(options: ProberOptions): Prober {
  const { breaker, marker, leases, statements, policy, logger } = options;
  const stopping = new AbortController();
  const link = createBrokerLink({
    connect: options.connect,
    logger,
    maxBackoff: options.maxBackoff,
    // Probes are spaced by the breaker; a connection ended by a refused probe is the expected outcome.
    countsAsFailure: () => false,
  });
  // Each queued probe keeps its lease (extended while it waits behind another probe).
  const queue: Array<{ row: ClaimedRow; lease: object }> = [];
  let running: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;

  async function judge(row: ClaimedRow): Promise<void> {
    const connection = await link.ensure(stopping.signal);
    if (!connection) return giveBack(row, 'the relay is stopping');
    logger.debug(`probing ${row.destination} with one row on a connection of its own`);
    const span = startSendSpan(row, 1);
    const started = performance.now();
    try {
      await connection.send(row.destination, sendBody(row.body), { headers: sendHeaders(row.headers, row) });
      span.end();
      options.metrics?.sent(row.destination, (performance.now() - started) / 1000);
    } catch (error) {
      span.end(error);
      if (stopping.signal.aborted) return giveBack(row, 'the relay is stopping');
      const refusal = isOutboxError(error, 'E_BROKER_ERROR') && !CONNECTION_LEVEL.test(error.message);
      return failed(row, error, refusal ? 'refused' : 'unknown');
    }
    marker.add(row.id, row.key != null);
    breaker.probed(row.destination, 'accepted');
    logger.info(`${row.destination} accepted the probe: sending its rows again`);
  }

  async function failed(row: ClaimedRow, error: unknown, outcome: 'refused' | 'unknown'): Promise<void> {
    breaker.probed(row.destination, outcome);
    const message = errorMessage(error);
    const hold = breaker.holdSeconds(row.destination);
    try {
      await statements.fail([row], message, policy);
      const { charged, failed } = await statements.chargeHeld(row.destination, row.id, message, policy.maxAttempts, hold);
      const gaveUp = failed + (row.attempts >= policy.maxAttempts ? 1 : 0);
      const what = outcome === 'refused' ? `the broker refused ${row.destination} again: ${brokerWords(message)}` : `the probe of ${row.destination} got no answer (${message})`;
      logger.warn(
        `${what} — ${charged + 1} row(s) charged an attempt, next probe in ${hold.toFixed(1)} s` +
          `${gaveUp ? `; ${gaveUp} row(s) now failed after ${policy.maxAttempts} attempts (outbox retry re-queues them)` : ''}`,
      );
      if (gaveUp) options.onFailed?.(gaveUp);
      options.metrics?.failed(row.destination, gaveUp);
      options.metrics?.retried(row.destination, charged + 1 - gaveUp);
    } catch (dbError) {
      // The rows stay as they are: the probe row comes back after its lease, the others after their hold.
      logger.warn(`cannot record the refused probe of ${row.destination} (${describeDbError(dbError)})`);
    }
  }

  async function giveBack(row: ClaimedRow, why: string): Promise<void> {
    logger.debug(`probe of ${row.destination} given back (${why})`);
    await statements.release([row], true, null).catch(() => {});
  }

  async function loop(): Promise<void> {
    clearTimeout(idleTimer);
    while (queue.length > 0) {
      const { row, lease } = queue.shift()!;
      try {
        if (stopping.signal.aborted) await giveBack(row, 'the relay is stopping');
        else await judge(row);
      } finally {
        leases.settle(lease);
      }
    }
    if (!stopping.signal.aborted) {
      idleTimer = setTimeout(() => void link.disconnect(1000), IDLE_CLOSE_MS);
      idleTimer.unref();
    }
  }

  function kick(): void {
    running ??= loop().finally(() => {
      running = undefined;
      if (queue.length > 0) kick();
    });
  }

  return {
    probe(row) {
      queue.push({ row, lease: leases.add([row]) });
      kick();
    },
    get pending() {
      return queue.length + (running ? 1 : 0);
    },
    async stop(timeoutMs) {
      stopping.abort();
      clearTimeout(idleTimer);
      if (running) await settledWithin(running, timeoutMs);
      const left = queue.splice(0);
      if (left.length) await statements.release(left.map((q) => q.row), true, null).catch(() => {});
      for (const q of left) leases.settle(q.lease);
      await link.disconnect(1000);
    },
  };
}

/**
 * Sending one claimed batch. Rows of a destination the breaker holds do not go out on the relay's
 * connection: one of them becomes the destination's probe when one is due (sent alone elsewhere, by
 * ./prober.ts), the others are held (not sent, attempt given back) until the next probe. The rest goes
 * pipelined on the relay's connection; each confirmed row goes to the marker, each failed one to the failure
 * sink. The batch stays leased (and its lease extended) until every row is settled.
 */
import { describeDbError } from '../db/errors.js';
import type { Logger } from '../log/logger.js';
import type { RelayMetrics } from '../telemetry/metrics.js';
import { startSendSpan } from '../telemetry/trace.js';
import type { Publisher } from '../transport/types.js';
import { sendBody } from '../wire/body.js';
import { sendHeaders } from '../wire/headers.js';
import type { Breaker } from './breaker.js';
import type { FailureSink } from './failures.js';
import type { Leases } from './leases.js';
import type { Marker } from './marker.js';
import type { Prober } from './prober.js';
import type { ClaimedRow, RelayStatements } from './sql.js';

export interface Sender {
  /** Sends `rows` on `connection`; resolves once every row is marked, judged, held or handed to a probe. */
  dispatch(connection: Publisher, rows: ClaimedRow[]): Promise<void>;
}

export interface SenderOptions {
  /** Whether `connection` is still the relay's live connection. */
  isLive(connection: Publisher): boolean;
  breaker: Breaker;
  prober: Prober;
  failures: FailureSink;
  marker: Marker;
  leases: Leases;
  statements: Pick<RelayStatements, 'hold' | 'release'>;
  logger: Logger;
  metrics?: RelayMetrics;
  /** A key's run is marked sent: its next row is a head now, claimable at once (the relay looks again). */
  onKeyFreed?(): void;
}

export function createSender(options: SenderOptions): Sender {
  const { isLive, breaker, prober, failures, marker, leases, statements, logger, metrics } = options;

  /** Sends one row; its receipt marks it, its failure goes to the failure sink. */
  function sendRow(connection: Publisher, row: ClaimedRow, batchSize: number, lastOfRun = false): Promise<void> {
    const span = startSendSpan(row, batchSize);
    const started = performance.now();
    metrics?.inFlight(1);
    let sent: Promise<void>;
    try {
      sent = connection.send(row.destination, sendBody(row.body), { headers: sendHeaders(row.headers, row) });
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      () => {
        metrics?.inFlight(-1);
        metrics?.sent(row.destination, (performance.now() - started) / 1000);
        span.end();
        marker.add(row.id, row.key != null);
        if (lastOfRun) void marker.settled().then(() => options.onKeyFreed?.());
      },
      (error: unknown) => {
        metrics?.inFlight(-1);
        span.end(error);
        failures.add(row, error);
      },
    );
  }

  /** Holds rows of refused destinations (not sent, attempt given back) until their probe is due. */
  async function hold(rows: ClaimedRow[]): Promise<void> {
    const byDestination = new Map<string, ClaimedRow[]>();
    for (const row of rows) byDestination.set(row.destination, [...(byDestination.get(row.destination) ?? []), row]);
    for (const [destination, group] of byDestination) {
      // If this fails the rows stay leased and come back after the lease, their attempt counted.
      await statements.hold(group, breaker.holdSeconds(destination)).catch((error: unknown) => logger.warn(`cannot hold ${group.length} rows to ${destination} (${describeDbError(error)})`));
    }
  }

  async function dispatch(connection: Publisher, rows: ClaimedRow[]): Promise<void> {
    let ready: ClaimedRow[] = [];
    const held: ClaimedRow[] = [];
    const probes: ClaimedRow[] = [];
    for (const row of rows) {
      if (!breaker.isOpen(row.destination)) ready.push(row);
      else if (breaker.takeProbe(row.destination)) probes.push(row);
      else held.push(row);
    }
    // A probe is leased and settled by the prober, on its own schedule.
    const batch = leases.add([...ready, ...held]);
    try {
      for (const probe of probes) prober.probe(probe);
      if (!isLive(connection)) {
        // The connection died before these were written: give them back now, attempt refunded.
        await statements.release(ready, true, null).catch(() => {});
        ready = [];
      }
      // Written in this order on one connection: a key's run reaches the broker in key_seq order.
      const tails = lastOfRuns(ready);
      await Promise.all([hold(held), ...ready.map((row) => sendRow(connection, row, rows.length, tails.has(row)))]);
      await marker.settled();
    } finally {
      leases.settle(batch);
    }
  }

  return { dispatch };
}

/** The last row of each key in `rows` (in send order): when it is marked, the key's next row is a head. */
function lastOfRuns(rows: ClaimedRow[]): Set<ClaimedRow> {
  const last = new Map<string, ClaimedRow>();
  for (const row of rows) if (row.key != null) last.set(`${row.destination}\u0000${row.key}`, row);
  return new Set(last.values());
}

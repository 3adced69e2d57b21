/**
 * Sending one claimed batch on the broker connection, under the per-destination circuit breaker:
 * rows of a refused destination are held (not sent, attempt given back) until their probe is due; the
 * first row of a destination whose hold is over goes alone as its probe (the batch's other rows of that
 * destination wait for its verdict); the rest goes pipelined. Each confirmed row goes to the marker, each
 * failed one to the failure sink. The batch stays leased (and its lease extended) until every row is settled.
 */
import type { Logger } from '../log/logger.js';
import { describeDbError } from '../db/errors.js';
import type { BrokerLink } from '../transport/link.js';
import type { Publisher } from '../transport/types.js';
import { sendBody } from '../wire/body.js';
import { sendHeaders } from '../wire/headers.js';
import type { Breaker } from './breaker.js';
import type { FailureSink } from './failures.js';
import type { Leases } from './leases.js';
import type { Marker } from './marker.js';
import type { ClaimedRow, RelayStatements } from './sql.js';

export interface Sender {
  /** Sends `rows` on `connection`; resolves once every row is marked, judged, released or held. */
  dispatch(connection: Publisher, rows: ClaimedRow[]): Promise<void>;
}

export interface SenderOptions {
  link: BrokerLink;
  breaker: Breaker;
  failures: FailureSink;
  marker: Marker;
  leases: Leases;
  statements: Pick<RelayStatements, 'hold' | 'release'>;
  logger: Logger;
}

export function createSender(options: SenderOptions): Sender {
  const { link, breaker, failures, marker, leases, statements, logger } = options;
  // Sends handed to the connection and not yet settled; a probe waits for none to be left.
  let outstanding = 0;
  let quietWaiters: Array<() => void> = [];
  const quiet = () => (outstanding === 0 ? Promise.resolve() : new Promise<void>((resolve) => quietWaiters.push(resolve)));
  // While a probe is out, no other send is written: a refusal then has no bystanders.
  let probing: Promise<void> | undefined;

  /** Sends one row; true once confirmed (then marked), false if it failed (then judged by `failures`). */
  function sendRow(connection: Publisher, row: ClaimedRow): Promise<boolean> {
    let sent: Promise<void>;
    try {
      sent = connection.send(row.destination, sendBody(row.body), { headers: sendHeaders(row.headers, row) });
    } catch (error) {
      sent = Promise.reject(error);
    }
    outstanding++;
    return sent
      .then(
        () => (marker.add(row.id), true),
        (error: unknown) => (failures.add(row, error), false),
      )
      .finally(() => {
        if (--outstanding > 0) return;
        const waiters = quietWaiters;
        quietWaiters = [];
        for (const resolve of waiters) resolve();
      });
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
    const batch = leases.add(rows);
    try {
      while (probing) await probing;
      const held: ClaimedRow[] = [];
      const probes: ClaimedRow[] = [];
      const afterProbe: ClaimedRow[] = [];
      let ready: ClaimedRow[] = [];
      const probed = new Set<string>();
      for (const row of rows) {
        if (probed.has(row.destination)) {
          afterProbe.push(row);
          continue;
        }
        const route = breaker.route(row.destination);
        if (route === 'hold') held.push(row);
        else if (route === 'send') ready.push(row);
        else {
          probes.push(row);
          probed.add(row.destination);
        }
      }
      const sends: Promise<boolean>[] = [];
      for (const probe of probes) {
        if (!link.isLive(connection)) {
          breaker.probed(probe.destination, false);
          ready.push(probe);
          continue;
        }
        logger.info(`probing ${probe.destination} with one row sent alone`);
        probing = (async () => {
          await quiet();
          const confirmed = await sendRow(connection, probe);
          breaker.probed(probe.destination, confirmed);
          if (confirmed) logger.info(`${probe.destination} accepted the probe: resuming`);
        })();
        await probing;
        probing = undefined;
      }
      for (const row of afterProbe) (breaker.route(row.destination) === 'send' ? ready : held).push(row);
      const holding = hold(held);
      if (!link.isLive(connection)) {
        // The connection died under a probe (or before): these were never written. Give them back now.
        await statements.release(ready, true, null).catch(() => {});
        ready = [];
      }
      for (const row of ready) sends.push(sendRow(connection, row));
      await Promise.all([holding, ...sends]);
      await marker.settled();
    } finally {
      leases.settle(batch);
    }
  }

  return { dispatch };
}

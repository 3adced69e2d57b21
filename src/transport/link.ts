/**
 * A broker link: the one reconnect loop of the relay and the consumer. It holds at most one live
 * connection, opens a new one when asked and there is none (the connector retries with backoff, every
 * attempt reported), tells its owner when a connection is lost, and closes gracefully or abruptly.
 *
 * A connection that keeps ending soon after it opened is not reopened at once: connecting succeeds, so the
 * connector alone would never slow down, and a broker that accepts the connection but refuses what is
 * done on it (a refused destination, a refused subscription) would become a hot loop. The n-th such loss in
 * a row waits `backoffSeconds(n − 1, broker.maxBackoff)` first. A loss counts when the owner says it does
 * (`countsAsFailure`) and the connection had neither stayed up `HEALTHY_MS` nor been `proven()`.
 */
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { backoffSeconds } from '../util/backoff.js';
import { monotonicMs } from '../util/clock.js';
import { sleep } from '../util/sleep.js';
import { settledWithin } from '../util/within.js';
import type { Connector, Publisher } from './types.js';

export interface BrokerLink<P extends Publisher = Publisher> {
  /** The live connection, connecting first if there is none; undefined once `signal` aborts. */
  ensure(signal: AbortSignal): Promise<P | undefined>;
  /** True while the current connection is open. */
  readonly alive: boolean;
  /** True while `connection` is the current connection and open. */
  isLive(connection: P): boolean;
  /** The current connection did useful work (delivered a message): losing it later starts afresh. */
  proven(): void;
  /** Graceful close, bounded by `timeoutMs`; then the socket is closed in any case. */
  disconnect(timeoutMs: number): Promise<void>;
  /** Drops the connection now; its pending work fails with `reason`. */
  destroy(reason: OutboxError): void;
}

export interface BrokerLinkOptions<P extends Publisher> {
  connect: Connector<P>;
  logger: Logger;
  /** Cap of the wait after repeated quick losses, seconds (`broker.maxBackoff`). */
  maxBackoff: number;
  /** Whether a loss for this reason counts toward the backoff (default: every loss). */
  countsAsFailure?(reason: OutboxError): boolean;
  /** Describes the wait before reconnecting after `streak` quick losses, for the log. */
  describeBackoff?(streak: number, seconds: number): string;
  /** Called for each new connection. */
  onConnected?(connection: P): void;
  /** Called once per connection lost (not after our own disconnect or destroy). */
  onLost?(reason: OutboxError, connection: P): void;
}

/** A connection that stayed up this long was healthy: the next loss starts the backoff afresh. */
export const HEALTHY_MS = 10_000;

export function createBrokerLink<P extends Publisher>(options: BrokerLinkOptions<P>): BrokerLink<P> {
  const { logger, maxBackoff } = options;
  const counts = options.countsAsFailure ?? (() => true);
  const describe = options.describeBackoff ?? ((n, s) => `the last ${n} connection(s) ended soon after opening; reconnecting in ${s.toFixed(1)} s`);
  let current: P | undefined;
  let alive = false;
  let closing = false;
  let proven = false;
  let streak = 0;

  function watch(connection: P): void {
    const openedAt = monotonicMs();
    void connection.closed.then((reason) => {
      if (current !== connection) return;
      alive = false;
      if (closing) return;
      const why = reason ?? new OutboxError('E_CONNECTION_CLOSED', `${connection.address} ended the session`);
      if (proven || monotonicMs() - openedAt >= HEALTHY_MS) streak = 0;
      if (!proven && counts(why)) streak++;
      options.onLost?.(why, connection);
    });
  }

  return {
    get alive() {
      return alive;
    },
    isLive(connection) {
      return connection === current && alive;
    },
    proven() {
      proven = true;
    },
    async ensure(signal) {
      if (current && alive) return current;
      if (signal.aborted) return undefined;
      if (streak > 0) {
        const delay = backoffSeconds(streak - 1, maxBackoff);
        logger.warn(describe(streak, delay));
        if (!(await sleep(delay * 1000, signal))) return undefined;
      }
      // A signal of our own for the connect attempts only: after connecting, aborting the caller's signal
      // must not close the connection behind our back — the owner drains it first.
      const connecting = new AbortController();
      const onAbort = () => connecting.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const connection = await options.connect(connecting.signal);
        current = connection;
        alive = true;
        proven = false;
        watch(connection);
        options.onConnected?.(connection);
        return connection;
      } catch (error) {
        if (signal.aborted || (error instanceof OutboxError && error.code === 'E_ABORTED')) return undefined;
        throw error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async disconnect(timeoutMs) {
      closing = true;
      const connection = current;
      if (!connection || !alive) return;
      await settledWithin(connection.disconnect(), timeoutMs);
      connection.destroy();
    },
    destroy(reason) {
      closing = true;
      current?.destroy(reason);
    },
  };
}

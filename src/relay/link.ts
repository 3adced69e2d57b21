/**
 * The relay's broker connection: (re)connects with `connectWithRetry` (capped exponential backoff, every
 * attempt logged), tells the relay when the connection is lost, and closes it gracefully or abruptly.
 *
 * A connection the broker closed on an ERROR (it refused a SEND) is not reconnected at once: connecting
 * succeeds, so `connectWithRetry` alone would never slow down, and a refusal the relay failed to pin on a
 * destination could kill one connection after another. The n-th such close in a row waits
 * `backoffSeconds(n − 1, broker.maxBackoff)` first; a connection that stayed up `HEALTHY_MS` resets the count.
 */
import type { ResolvedBroker } from '../config/resolve.js';
import { isOutboxError, OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { backoffSeconds } from '../util/backoff.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import { CONNECTION_LEVEL } from './attribute.js';
import type { StompSession } from '../stomp/types.js';
import { sleep } from '../util/sleep.js';

export interface BrokerLink {
  /** The live session, connecting first if there is none; undefined once `signal` aborts. */
  ensure(signal: AbortSignal): Promise<StompSession | undefined>;
  /** True while the current session is open. */
  readonly alive: boolean;
  /** True while `session` is the current session and open. */
  isLive(session: StompSession): boolean;
  /** Connections the broker closed on an ERROR so far (for logs and tests). */
  readonly errorCloses: number;
  /** DISCONNECT (bounded by `timeoutMs`) once nothing is pending; then the socket is closed. */
  disconnect(timeoutMs: number): Promise<void>;
  /** Drops the connection now; its pending sends fail with `reason`. */
  destroy(reason: OutboxError): void;
}

export function createBrokerLink(options: {
  broker: ResolvedBroker;
  window: number;
  logger: Logger;
  /** Called once per lost connection (not after our own disconnect). */
  onLost(reason: OutboxError): void;
}): BrokerLink {
  const { broker, window, logger } = options;
  let session: StompSession | undefined;
  let alive = false;
  let closing = false;
  let streak = 0;
  let errorCloses = 0;

  return {
    get alive() {
      return alive;
    },
    isLive(s) {
      return s === session && alive;
    },
    get errorCloses() {
      return errorCloses;
    },
    async ensure(signal) {
      if (session && alive) return session;
      if (signal.aborted) return undefined;
      if (streak > 0) {
        const delay = backoffSeconds(streak - 1, broker.maxBackoff);
        logger.warn(`the broker closed ${streak} connection(s) in a row on an ERROR; reconnecting in ${delay.toFixed(1)} s`);
        await sleep(delay * 1000, signal);
        if (signal.aborted) return undefined;
      }
      // A signal of our own for the connect attempts only: after connecting, aborting the caller's signal
      // must not close the session behind our back — the relay drains it first.
      const connecting = new AbortController();
      const onAbort = () => connecting.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const s = await connectWithRetry({ broker, window, logger, signal: connecting.signal });
        session = s;
        alive = true;
        const openedAt = Date.now();
        logger.info(`connected to the broker at ${s.address}`);
        void s.closed.then((reason) => {
          if (session !== s) return;
          alive = false;
          if (closing) return;
          if (Date.now() - openedAt >= HEALTHY_MS) streak = 0;
          if (reason && isOutboxError(reason, 'E_BROKER_ERROR') && !CONNECTION_LEVEL.test(reason.message)) {
            streak++;
            errorCloses++;
          }
          const why = reason ?? new OutboxError('E_CONNECTION_CLOSED', `${s.address} ended the session`);
          logger.warn(`lost the broker connection (${why.code}: ${why.message}); reconnecting`);
          options.onLost(why);
        });
        return s;
      } catch (error) {
        if (isOutboxError(error, 'E_ABORTED')) return undefined;
        throw error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async disconnect(timeoutMs) {
      closing = true;
      const s = session;
      if (!s || !alive) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([s.disconnect().catch(() => {}), late]);
      clearTimeout(timer);
      s.destroy();
    },
    destroy(reason) {
      closing = true;
      session?.destroy(reason);
    },
  };
}

/** A connection that stayed up this long was healthy: the next ERROR starts the reconnect backoff afresh. */
const HEALTHY_MS = 10_000;

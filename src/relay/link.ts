/**
 * The relay's broker connection: (re)connects with `connectWithRetry` (capped exponential backoff, every
 * attempt logged), tells the relay when the connection is lost, and closes it gracefully or abruptly.
 */
import type { ResolvedBroker } from '../config/resolve.js';
import { isOutboxError, OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import type { StompSession } from '../stomp/types.js';

export interface BrokerLink {
  /** The live session, connecting first if there is none; undefined once `signal` aborts. */
  ensure(signal: AbortSignal): Promise<StompSession | undefined>;
  /** True while the current session is open. */
  readonly alive: boolean;
  /** DISCONNECT (bounded by `timeoutSeconds`) once nothing is pending; then the socket is closed. */
  disconnect(timeoutSeconds: number): Promise<void>;
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

  return {
    get alive() {
      return alive;
    },
    async ensure(signal) {
      if (session && alive) return session;
      if (signal.aborted) return undefined;
      // A signal of our own for the connect attempts only: after connecting, aborting the caller's signal
      // must not close the session behind our back — the relay drains it first.
      const connecting = new AbortController();
      const onAbort = () => connecting.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const s = await connectWithRetry({ broker, window, logger, signal: connecting.signal });
        session = s;
        alive = true;
        logger.info(`connected to the broker at ${s.address}`);
        void s.closed.then((reason) => {
          if (session !== s) return;
          alive = false;
          if (closing) return;
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
    async disconnect(timeoutSeconds) {
      closing = true;
      const s = session;
      if (!s || !alive) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutSeconds * 1000 + 1000);
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

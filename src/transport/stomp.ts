/**
 * The STOMP transport: a connector that opens one STOMP 1.2 session (retrying with the broker backoff).
 * A STOMP session is a Publisher as it is.
 */
import type { ResolvedBroker } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import type { StompSession } from '../stomp/types.js';
import type { Connector } from './types.js';

export interface StompConnectorOptions {
  logger: Logger;
  window?: number;
  /**
   * Until a first connection succeeds, a broker that refuses the CONNECT (credentials, vhost) is a
   * configuration mistake (`E_CONFIG`) rather than an outage — unless `wait` is set (`outbox relay --wait`).
   */
  wait?: boolean;
}

export function stompConnector(broker: ResolvedBroker, options: StompConnectorOptions): Connector<StompSession> {
  let connectedOnce = false;
  return async (signal) => {
    const session = await connectWithRetry({
      broker,
      logger: options.logger,
      window: options.window,
      signal,
      refusalIsFatal: () => !connectedOnce && !options.wait,
    });
    connectedOnce = true;
    return session;
  };
}

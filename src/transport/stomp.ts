/**
 * The STOMP transport: a connector that opens one STOMP 1.2 session (retrying with the broker backoff).
 * A STOMP session is a Publisher as it is.
 */
import type { ResolvedBroker } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import type { StompSession } from '../stomp/types.js';
import type { Connector } from './types.js';

export function stompConnector(broker: ResolvedBroker, options: { logger: Logger; window?: number }): Connector<StompSession> {
  return (signal) => connectWithRetry({ broker, logger: options.logger, window: options.window, signal });
}

/**
 * `connectWithRetry()`: `connect()` in a loop with capped exponential backoff, until it succeeds or the
 * signal aborts. Relay and consumer build their reconnect loops on it:
 *
 * @example
 * while (!signal.aborted) {
 *   const session = await connectWithRetry({ broker, logger, signal }); // rejects E_ABORTED on abort
 *   const reason = await session.closed;                                // undefined after a clean disconnect
 *   if (reason) logger.warn(`broker connection lost (${reason.code}); reconnecting`);
 * }
 */
import { OutboxError } from '../errors.js';
import { defaultLogger } from '../log/logger.js';
import { backoffSeconds } from '../util/backoff.js';
import { connect, type ConnectedSession } from './connect.js';
import type { ConnectOptions } from './types.js';
import { sleep } from '../util/sleep.js';

export interface RetryOptions extends ConnectOptions {
  /** Called after each failed attempt, before waiting `delay` seconds (metrics, tests). */
  onAttempt?: (info: { attempt: number; error: OutboxError; delay: number }) => void;
}

/**
 * Resolves with the first session any host accepts; rejects only with `E_ABORTED` (the signal) or `E_CONFIG`
 * (settings that cannot be sent, no hosts). Every other failure is logged and retried after the backoff.
 */
export async function connectWithRetry(options: RetryOptions): Promise<ConnectedSession> {
  const logger = options.logger ?? defaultLogger('stomp');
  const { signal, broker } = options;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortedError();
    try {
      const session = await connect({ ...options, logger });
      if (attempt > 0) logger.info(`connected to ${session.address} after ${attempt + 1} attempts`);
      return session;
    } catch (e) {
      const error = e instanceof OutboxError ? e : new OutboxError('E_CONNECT', String(e), { cause: e });
      if (error.code === 'E_ABORTED' || signal?.aborted) throw abortedError();
      // Settings that cannot work will not start working by waiting.
      if (error.code === 'E_CONFIG') throw error;
      const delay = backoffSeconds(attempt, broker.maxBackoff);
      // The message names hosts and the broker's words, never credentials.
      logger.warn(`broker connect attempt ${attempt + 1} failed (${error.code}: ${error.message}); retrying in ${delay.toFixed(1)} s`);
      try {
        options.onAttempt?.({ attempt, error, delay });
      } catch {
        /* an observer must not stop the loop */
      }
      if (!(await sleep(delay * 1000, signal))) throw abortedError();
    }
  }
}

const abortedError = (): OutboxError => new OutboxError('E_ABORTED', 'connecting to the broker was aborted');

/**
 * `connectWithRetry()`: `connect()` in a loop with capped exponential backoff, until it succeeds or the
 * signal aborts. The relay's and the consumer's broker links (src/transport/link.ts) connect through it.
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
import { brokerRetry, retry, RetryAborted } from '../util/retry.js';
import { connect, type ConnectedSession } from './connect.js';
import type { ConnectOptions } from './types.js';

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
  try {
    const session = await retry((attempt) => connect({ ...options, logger }).then((s) => {
      if (attempt > 0) logger.info(`connected to ${s.address} after ${attempt + 1} attempts`);
      return s;
    }), {
      policy: brokerRetry(broker.maxBackoff),
      signal,
      // Settings that cannot work will not start working by waiting; an abort is the caller's wish.
      fatal: (error) => error instanceof OutboxError && (error.code === 'E_CONFIG' || error.code === 'E_ABORTED'),
      onRetry(e, attempt, delay) {
        const error = asOutboxError(e);
        // The message names hosts and the broker's words, never credentials.
        logger.warn(`broker connect attempt ${attempt + 1} failed (${error.code}: ${error.message}); retrying in ${delay.toFixed(1)} s`);
        try {
          options.onAttempt?.({ attempt, error, delay });
        } catch {
          /* an observer must not stop the loop */
        }
      },
    });
    return session;
  } catch (error) {
    if (error instanceof RetryAborted || signal?.aborted) throw abortedError();
    if (error instanceof OutboxError && error.code === 'E_ABORTED') throw abortedError();
    throw error;
  }
}

const asOutboxError = (e: unknown): OutboxError => (e instanceof OutboxError ? e : new OutboxError('E_CONNECT', String(e), { cause: e }));
const abortedError = (): OutboxError => new OutboxError('E_ABORTED', 'connecting to the broker was aborted');

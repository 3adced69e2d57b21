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
import { createOutageLog } from '../util/outage.js';
import { brokerRetry, retry, RetryAborted } from '../util/retry.js';
import { connect, type ConnectedSession } from './connect.js';
import type { ConnectOptions } from './types.js';

export interface RetryOptions extends ConnectOptions {
  /**
   * Asked when the broker refuses the CONNECT itself (an ERROR instead of CONNECTED: credentials, vhost):
   * true makes it an `E_CONFIG` at once instead of a retry — a mistake at start-up, an outage afterwards.
   */
  refusalIsFatal?: () => boolean;
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
  // One line when the outage starts or its cause changes, a summary a minute, one when it is over.
  // The messages name hosts and the broker's words, never credentials.
  const outage = createOutageLog(logger, 'connect to the broker', (e) => `${asOutboxError(e).code}: ${asOutboxError(e).message}`);
  try {
    const session = await retry(() => connect({ ...options, logger }), {
      policy: brokerRetry(broker.maxBackoff),
      signal,
      // Settings that cannot work will not start working by waiting; an abort is the caller's wish.
      fatal: (error) =>
        error instanceof OutboxError && (error.code === 'E_CONFIG' || error.code === 'E_ABORTED' || (error.code === 'E_BROKER_ERROR' && !!options.refusalIsFatal?.())),
      onRetry(e, attempt, delay) {
        const error = asOutboxError(e);
        outage.failed(error, delay);
        try {
          options.onAttempt?.({ attempt, error, delay });
        } catch {
          /* an observer must not stop the loop */
        }
      },
    });
    outage.recovered();
    return session;
  } catch (error) {
    if (error instanceof RetryAborted || signal?.aborted) throw abortedError();
    if (error instanceof OutboxError && error.code === 'E_ABORTED') throw abortedError();
    if (error instanceof OutboxError && error.code === 'E_BROKER_ERROR') {
      throw new OutboxError('E_CONFIG', `the broker refused the connection: ${error.message} (check broker.login, broker.passcode and broker.vhost, or OUTBOX_BROKER_URL)`, { cause: error });
    }
    throw error;
  }
}

const asOutboxError = (e: unknown): OutboxError => (e instanceof OutboxError ? e : new OutboxError('E_CONNECT', String(e), { cause: e }));
const abortedError = (): OutboxError => new OutboxError('E_ABORTED', 'connecting to the broker was aborted');

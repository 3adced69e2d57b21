import type { ResolvedConfig } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';
import { connect } from '../stomp/connect.js';
import type { StompSession } from '../stomp/types.js';
import type { ConsumeTarget } from '../transport/brokers.js';

/**
 * Declares `DLQ.<queue>` (durable) before the consumer subscribes, so the first NACK already has
 * somewhere to go: RabbitMQ drops a dead-lettered message whose routing key matches no queue. (ActiveMQ
 * creates its DLQ on the first dead letter: its broker entry has nothing to declare.)
 *
 * STOMP can only declare a queue by subscribing to it, and a subscription delivers: on RabbitMQ a message
 * delivered to a subscription cannot be ACKed or NACKed after UNSUBSCRIBE, and stays unacked until its
 * connection closes. So the declaration uses a connection of its own, closed at once: whatever the DLQ
 * delivered meanwhile goes straight back to it.
 *
 * Failure is logged, not thrown: consuming still works, and the next reconnect declares again.
 */
export async function declareDeadLetterQueue(config: ResolvedConfig, target: ConsumeTarget, logger: Logger, signal: AbortSignal): Promise<boolean> {
  const dlq = target.deadLetterQueue;
  const declaration = target.declareDeadLetter;
  if (!declaration) return true;
  let session: StompSession | undefined;
  try {
    session = await connect({ broker: config.broker, logger, signal });
    session.subscribe(declaration.destination, declaration.headers, () => {}, `declare-${dlq}`);
    // Frames are handled in order: the DISCONNECT receipt comes after the SUBSCRIBE was processed, and an
    // ERROR for it (e.g. PRECONDITION_FAILED) comes before, ending the session with that reason.
    await session.disconnect();
    const reason = await session.closed;
    if (reason) throw reason;
    logger.debug(`declared the dead-letter queue ${dlq}`);
    return true;
  } catch (error) {
    session?.destroy();
    if (signal.aborted) return false;
    logger.error(
      `could not declare the dead-letter queue ${dlq} (${(error as Error)?.message ?? String(error)}); ` +
        'RabbitMQ drops NACKed messages until it exists',
    );
    return false;
  }
}

/**
 * Whether the broker takes publishes. When it stops confirming — a connection ended with no RECEIPT in time
 * — rows are not sent on the next connection until the broker shows it confirms again. RabbitMQ blocks
 * publishing connections during a memory or disk alarm: the connection stays up, the broker reads no more
 * of it, and every frame sent is one more copy to resend later. It blocks only after a first publish,
 * though (measured: on a new connection during an alarm the first SEND gets its RECEIPT, a second one
 * written after that receipt gets none). So the check is two SENDs, one after the other's receipt, to a
 * queue that does not exist: confirmed and dropped, routed nowhere. Both confirmed: open. Otherwise the
 * connection ends with E_RECEIPT_TIMEOUT and the relay tries again on the next one, claiming nothing meanwhile.
 */
import type { Logger } from '../log/logger.js';
import { brokerTraits, rabbitmq } from '../transport/brokers.js';
import type { Publisher } from '../transport/types.js';
import { monotonicMs } from '../util/clock.js';

/** Where the check sends on RabbitMQ: `/amq/queue/` never declares, and a missing queue drops the message. */
export const CHECK_DESTINATION = rabbitmq.publishCheck;

export interface Gate {
  /** True while the broker has not shown it confirms publishes since it stopped. */
  readonly blocked: boolean;
  /** Monotonic ms since when it is blocked, or undefined. */
  readonly since: number | undefined;
  /** A connection ended without confirming in time. */
  stoppedConfirming(): void;
  /** Checks the broker on `connection`; true once it confirms publishes (or was never suspected). */
  open(connection: Publisher): Promise<boolean>;
}

export function createGate(options: { logger: Logger; receiptTimeout: number; onChange?(blocked: boolean): void }): Gate {
  const { logger } = options;
  let since: number | undefined;

  return {
    get blocked() {
      return since !== undefined;
    },
    get since() {
      return since;
    },
    stoppedConfirming() {
      if (since !== undefined) return;
      since = monotonicMs();
      logger.warn(
        `the broker confirmed nothing for ${options.receiptTimeout} s: is it blocking publishers (a RabbitMQ memory or disk alarm)? ` +
          'Sending nothing more until it confirms again',
      );
      options.onChange?.(true);
    },
    async open(connection) {
      if (since === undefined) return true;
      try {
        for (let i = 0; i < 2; i++) await connection.send(brokerTraits(connection.flavor).publishCheck, '', { headers: { 'content-type': 'text/plain' } });
      } catch {
        return false;
      }
      logger.info(`the broker confirms publishes again, after ${((monotonicMs() - since) / 1000).toFixed(1)} s: sending`);
      since = undefined;
      options.onChange?.(false);
      return true;
    },
  };
}

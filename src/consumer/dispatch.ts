/**
 * Runs deliveries with at most `concurrency` handlers at once, in arrival order, and drains them on
 * shutdown. It never touches the socket: handlers are awaited beside it, so frames and heart-beats keep
 * flowing while they run.
 */
import type { Logger } from '../log/logger.js';
import { deliver, type Delivery, type DeliveryContext } from './deliver.js';
import type { ConsumerStats } from './types.js';
import { within } from '../util/within.js';

export interface Dispatcher {
  /** Whether new deliveries are still taken (false once `close` began). */
  readonly accepting: boolean;
  /** Queues a delivery; it starts as soon as a handler slot is free. */
  push(delivery: Delivery): void;
  /** Forgets the deliveries not started yet (their connection is gone: the broker redelivers them). */
  dropWaiting(): number;
  /**
   * Takes nothing more, drops what has not started, and waits for running handlers up to `timeout`
   * seconds (`null` forever, `0` not at all). Resolves with how many were still running.
   */
  close(timeout: number | null): Promise<number>;
}

export function createDispatcher(ctx: DeliveryContext, concurrency: number, counts: ConsumerStats, logger: Logger): Dispatcher {
  const running = new Set<Promise<void>>();
  const waiting: Delivery[] = [];
  let accepting = true;

  function pump(): void {
    while (accepting && running.size < concurrency && waiting.length > 0) {
      const delivery = waiting.shift()!;
      if (delivery.abandoned.aborted) continue;
      const done: Promise<void> = deliver(ctx, delivery)
        .then(
          (outcome) => void counts[outcome]++,
          (error: unknown) => {
            counts.abandoned++;
            logger.error(`unexpected failure handling a message: ${(error as Error)?.message ?? String(error)}`, error);
          },
        )
        .finally(() => {
          running.delete(done);
          pump();
        });
      running.add(done);
    }
  }

  /** Waits until no handler runs (handlers that finish may start none: `accepting` is false by now). */
  async function allFinished(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running]);
  }

  return {
    get accepting() {
      return accepting;
    },
    push(delivery) {
      waiting.push(delivery);
      pump();
    },
    dropWaiting() {
      return waiting.splice(0, waiting.length).length;
    },
    async close(timeout) {
      accepting = false;
      const dropped = waiting.splice(0, waiting.length).length;
      if (dropped > 0) logger.info(`shutting down: ${dropped} message(s) not started are left for redelivery`);
      if (running.size === 0 || timeout === 0) return running.size;
      logger.info(`shutting down: waiting for ${running.size} handler(s)${timeout === null ? '' : ` (up to ${timeout} s)`}`);
      await within(allFinished(), { ms: timeout === null ? null : timeout * 1000 });
      return running.size;
    },
  };
}

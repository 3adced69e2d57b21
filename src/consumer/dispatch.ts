/**
 * Runs deliveries with at most `concurrency` handlers alive at once, in arrival order, and drains them on
 * shutdown. It never touches the socket: handlers are awaited beside it, so frames and heart-beats keep
 * flowing while they run.
 *
 * A handler that runs past `consumer.handlerTimeout` has its message NACKed at once, but keeps its slot
 * until it settles: freeing the slot would let a hung handler pile up behind another (each holding what it
 * holds — a pooled connection, a lock) until the pool, and with it the consumer's own lookups, ran dry.
 * Such hung handlers are counted (`stats().hung`) and listed in the log once a minute; when every slot has
 * been held by one for longer than `consumer.handlerTimeout` again, nothing can progress any more, and the
 * consumer stops with `E_HANDLER_TIMEOUT` for a supervisor to restart the process.
 */
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { watchDelivery } from '../telemetry/delivery.js';
import type { ConsumerMetrics } from '../telemetry/metrics.js';
import { monotonicMs } from '../util/clock.js';
import { within } from '../util/within.js';
import { messageIdOf } from '../wire/headers.js';
import type { Start, Successors } from './chain.js';
import { checkDelivery, deliver } from './deliver.js';
import { createLanes } from './lanes.js';
import type { Delivery, DeliveryContext } from './delivery.js';
import type { OutcomeCounts } from './types.js';

export interface Dispatcher {
  /** Whether new deliveries are still taken (false once `close` began). */
  readonly accepting: boolean;
  /** Handlers running past `consumer.handlerTimeout` now (their messages already NACKed). */
  readonly hung: number;
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

export interface DispatcherOptions {
  concurrency: number;
  counts: OutcomeCounts;
  logger: Logger;
  /** The consumer cannot go on (all slots hung, its inbox gone): called once, with the reason. */
  onFatal(error: unknown): void;
  metrics?: ConsumerMetrics;
}

/** While handlers are hung, the log lists them this often. */
export const HUNG_REPORT_EVERY_MS = 60_000;

interface Hung {
  id: string;
  /** When its message was NACKed for the timeout (monotonic ms). */
  since: number;
}

export function createDispatcher(ctx: DeliveryContext, options: DispatcherOptions): Dispatcher {
  const { concurrency, counts, logger, onFatal } = options;
  const running = new Set<Promise<void>>();
  const hung = new Map<object, Hung>();
  const waiting: Delivery[] = [];
  // How long every slot may stay hung before the consumer gives up: handlerTimeout again, so a handler
  // still running at twice its limit. No limit, no hung handlers.
  const hungLimitMs = ctx.handlerTimeout === null ? null : ctx.handlerTimeout * 1000;
  let watchdog: NodeJS.Timeout | undefined;
  let reportedAt = 0;
  let accepting = true;
  // Messages of one outbox-key run one at a time, in arrival order (./lanes.ts).
  const lanes = createLanes();

  function pump(): void {
    while (accepting && running.size < concurrency && waiting.length > 0) {
      const at = lanes.next(waiting);
      if (at < 0) return;
      const [delivery] = waiting.splice(at, 1);
      if (delivery!.abandoned.aborted) continue;
      start(delivery!);
    }
  }

  // A transaction about to commit takes the next message to start on its connection (chain.ts).
  const successors: Successors = {
    take() {
      if (!accepting) return undefined;
      const at = lanes.next(waiting);
      if (at < 0 || waiting[at]!.abandoned.aborted) return undefined;
      const delivery = waiting[at]!;
      // One NACKed as invalid needs no transaction: it starts as usual.
      const checked = checkDelivery(ctx, delivery);
      if ('invalid' in checked) return undefined;
      waiting.splice(at, 1);
      // Its lane is held from now: a later message of its key must not start first.
      lanes.enter(delivery.message);
      return { delivery, checked };
    },
    giveBack({ delivery }) {
      lanes.leave(delivery.message);
      // Those before it in the queue wait on other keys' lanes: at the head, it keeps its place in its own.
      if (accepting) waiting.unshift(delivery);
      pump();
    },
    // Started even if shutdown began or its connection was lost since it was taken (one round trip ago): its
    // transaction is open, and it runs as one started just before would. Unacked, it comes back as recorded.
    start({ delivery, checked }, open) {
      start(delivery, { checked, open });
    },
  };

  function start(delivery: Delivery, chained?: Start['chained']): void {
    lanes.enter(delivery.message);
    let reported = false;
    const token = {};
    // Its CONSUMER span is active while the handler runs: the handler's spans and events continue the trace.
    const watch = watchDelivery(options.metrics, delivery.message.headers, { destination: ctx.destination, queue: ctx.inbox.queue });
    const slot: Promise<void> = watch.run(() => deliver(ctx, delivery, (outcome) => {
      if (reported) return;
      reported = true;
      counts[outcome]++;
      watch.settled(outcome);
      if (outcome === 'timeout') markHung(token, delivery);
    }, { successors, chained }))
      .catch((error: unknown) => {
        // deliver() rejects only when the consumer cannot go on; the message stays unsettled.
        if (!reported) counts.abandoned++;
        watch.failed(error, reported);
        onFatal(error);
      })
      .finally(() => {
        watch.done();
        running.delete(slot);
        lanes.leave(delivery.message);
        if (hung.delete(token) && hung.size === 0) stopWatchdog();
        pump();
      });
    running.add(slot);
  }

  function markHung(token: object, delivery: Delivery): void {
    hung.set(token, { id: messageIdOf(delivery.message.headers)?.id ?? '?', since: monotonicMs() });
    if (hung.size === 1) reportedAt = monotonicMs();
    logger.warn(`${hung.size} of ${concurrency} handler slot(s) held by handlers still running past consumer.handlerTimeout`);
    if (!watchdog && hungLimitMs !== null) {
      watchdog = setInterval(check, Math.min(1000, Math.max(50, hungLimitMs / 4)));
      watchdog.unref();
    }
  }

  function check(): void {
    const now = monotonicMs();
    const list = [...hung.values()];
    const describe = () => list.map((h) => `${h.id} (${((now - h.since) / 1000).toFixed(0)} s)`).join(', ');
    if (hungLimitMs !== null && list.length >= concurrency && list.every((h) => now - h.since >= hungLimitMs)) {
      stopWatchdog();
      onFatal(
        new OutboxError(
          'E_HANDLER_TIMEOUT',
          `every handler slot (${concurrency}) is held by a handler still running ${hungLimitMs / 1000} s after consumer.handlerTimeout ` +
            `(messages ${describe()}, already nacked): stopping, so that a supervisor restarts the process`,
        ),
      );
      return;
    }
    if (now - reportedAt >= HUNG_REPORT_EVERY_MS) {
      reportedAt = now;
      logger.warn(`${list.length} of ${concurrency} handler slot(s) still held by handlers past consumer.handlerTimeout: messages ${describe()}`);
    }
  }

  function stopWatchdog(): void {
    clearInterval(watchdog);
    watchdog = undefined;
  }

  /** Waits until no handler runs (handlers that finish may start none: `accepting` is false by now). */
  async function allFinished(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running]);
  }

  return {
    get accepting() {
      return accepting;
    },
    get hung() {
      return hung.size;
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
      stopWatchdog();
      const dropped = waiting.splice(0, waiting.length).length;
      if (dropped > 0) logger.info(`shutting down: ${dropped} message(s) not started are left for redelivery`);
      if (running.size === 0 || timeout === 0) return running.size;
      logger.info(`shutting down: waiting for ${running.size} handler(s)${timeout === null ? '' : ` (up to ${timeout} s)`}`);
      await within(allFinished(), { ms: timeout === null ? null : timeout * 1000 });
      return running.size;
    },
  };
}

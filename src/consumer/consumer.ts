/**
 * `createConsumer()`: the idempotent inbox consumer. One durable subscription, kept alive across broker
 * restarts; up to `consumer.concurrency` handlers at once; a graceful drain on stop.
 */
import { randomUUID } from 'node:crypto';
import { createOutboxTables } from '../db/tables.js';
import { OutboxError } from '../errors.js';
import { defaultLogger } from '../log/logger.js';
import { createRetention } from '../retention/retention.js';
import { backoffSeconds } from '../stomp/backoff.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import type { StompMessage, StompSession, Subscription } from '../stomp/types.js';
import { declareDeadLetterQueue } from './dead-letter.js';
import type { DeliveryContext } from './deliver.js';
import { createDispatcher } from './dispatch.js';
import { GAVE_UP, persist, sleep } from './persist.js';
import { inboxStatements } from './sql.js';
import { deadLetterQueue, defaultQueueName, subscribeHeaders } from './subscription.js';
import type { Consumer, ConsumerOptions, ConsumerStats } from './types.js';

/**
 * Creates a consumer of `destination`. Nothing connects until `run()`.
 *
 * @example
 * const consumer = createConsumer({ db, config: resolveConfig(config), destination: '/topic/orders', handler: onOrder });
 * process.once('SIGTERM', () => consumer.stop());
 * await consumer.run();
 */
export function createConsumer<T = unknown>(options: ConsumerOptions<T>): Consumer {
  const { db, config, destination } = options;
  const settings = config.consumer;
  const queue = options.queue || defaultQueueName(destination);
  if (!destination) throw new OutboxError('E_CONFIG', 'createConsumer needs a destination, e.g. /topic/orders');
  if (typeof options.handler !== 'function') throw new OutboxError('E_CONFIG', 'createConsumer needs a handler function');
  const logger = options.logger ?? defaultLogger('consumer');
  // One id for the life of the consumer: every reconnect subscribes with it again.
  const subscriptionId = `outbox-${queue}-${randomUUID().slice(0, 8)}`;
  const ctx: DeliveryContext = {
    handler: options.handler as DeliveryContext['handler'],
    inbox: inboxStatements(db, createOutboxTables(config.tables)),
    logger,
    destination,
    deadLetterQueue: deadLetterQueue(queue),
    handlerTimeout: settings.handlerTimeout,
  };
  const counts: ConsumerStats = {
    received: 0, acked: 0, recorded: 0, duplicate: 0, nacked: 0, failed: 0, unsettled: 0, timeout: 0, abandoned: 0,
  };
  const stopper = new AbortController();
  let running: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  if (settings.concurrency > settings.prefetchCount) {
    logger.warn(
      `consumer.concurrency (${settings.concurrency}) is above consumer.prefetchCount (${settings.prefetchCount}): ` +
        'the broker never sends more than prefetchCount unacked messages, so the extra handlers stay idle',
    );
  }

  async function loop(signal: AbortSignal): Promise<void> {
    // Before anything else: a missing inbox table is a setup mistake to report, not to retry per message.
    if ((await persist('looking at the inbox table', () => ctx.inbox.isRecorded(''), signal, logger)) === GAVE_UP) return;
    const dispatcher = createDispatcher(ctx, settings.concurrency, counts, logger);
    // Aborted when shutdown stops waiting for handlers: their database retries give up.
    const gaveUp = new AbortController();
    let session: StompSession | undefined;
    let subscription: Subscription | undefined;
    let sessionOpen = false;
    // Inbox rows older than retention.days go in bounded batches, at most once per retention.interval
    // across every consumer and relay (the schedule is a row in the maintenance table).
    const retention = createRetention({ db, tables: config.tables, retention: config.retention, logger, targets: ['received'] });
    retention.start();

    // Sessions in a row that ended soon, having delivered nothing: a broker that accepts the connection but
    // refuses the subscription (PRECONDITION_FAILED, access refused) must not become a hot reconnect loop.
    let shortLived = 0;
    try {
      while (!signal.aborted) {
        if (shortLived > 0) {
          const delay = backoffSeconds(shortLived - 1, config.broker.maxBackoff);
          logger.warn(`the last ${shortLived} connection(s) ended within ${SHORT_LIVED_S} s without a message; subscribing again in ${delay.toFixed(1)} s`);
          if (!(await sleep(delay * 1000, signal))) break;
        }
        // Its own signal: aborting the one given to connect() after it connected would disconnect at once,
        // before in-flight handlers are drained.
        const connecting = new AbortController();
        const onAbort = (): void => connecting.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          session = await connectWithRetry({ broker: config.broker, logger, signal: connecting.signal });
        } catch (error) {
          if (signal.aborted) break;
          throw error;
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        const current = session;
        const connectedAt = Date.now();
        let deliveredAny = false;
        await declareDeadLetterQueue(config, queue, logger, signal);
        const lost = new AbortController();
        const abandoned = AbortSignal.any([lost.signal, gaveUp.signal]);
        sessionOpen = true;
        const onMessage = (message: StompMessage): void => {
          counts.received++;
          deliveredAny = true;
          if (!dispatcher.accepting) {
            // Not acked: the broker redelivers it once this connection closes.
            logger.debug(`shutting down: leaving message ${message.headers['message-id'] ?? ''} for redelivery`);
            return;
          }
          dispatcher.push({
            message,
            abandoned,
            settle(kind) {
              if (!sessionOpen || lost.signal.aborted) return false;
              if (kind === 'ack') current.ack(message);
              else current.nack(message, { requeue: 'false' });
              return true;
            },
          });
        };
        try {
          subscription = current.subscribe(destination, subscribeHeaders(settings, queue), onMessage, subscriptionId);
        } catch (error) {
          // The connection died between connecting and subscribing: go round again.
          if (!(error instanceof OutboxError) || error.code !== 'E_CONNECTION_CLOSED') throw error;
        }
        logger.info(
          `consuming ${destination} from queue ${queue} on ${current.address} ` +
            `(prefetch ${settings.prefetchCount}, concurrency ${settings.concurrency}, dead letters to ${deadLetterQueue(queue)})`,
        );
        const stopped = whenAborted(signal);
        const ended = await Promise.race([current.closed.then((reason) => ({ reason })), stopped.promise]);
        stopped.dispose();
        if (!ended) break; // shutting down with the connection still open
        sessionOpen = false;
        lost.abort();
        session = undefined;
        subscription = undefined;
        // Deliveries not started yet belong to the dead connection: the broker redelivers them.
        dispatcher.dropWaiting();
        shortLived = !deliveredAny && Date.now() - connectedAt < SHORT_LIVED_S * 1000 ? shortLived + 1 : 0;
        if (!signal.aborted) {
          logger.warn(`lost the broker connection (${ended.reason?.message ?? 'closed'}); reconnecting and subscribing again`);
        }
      }
    } finally {
      const stillRunning = await dispatcher.close(settings.shutdownTimeout);
      if (stillRunning > 0) {
        gaveUp.abort();
        logger.warn(
          `shutting down: ${stillRunning} handler(s) still running after consumer.shutdownTimeout (${settings.shutdownTimeout} s); ` +
            'their messages stay unacked and the broker will redeliver them',
        );
      }
      // Only now: on RabbitMQ a message cannot be acked once its subscription is gone.
      sessionOpen = false;
      if (session) {
        await subscription?.unsubscribe().catch(() => {});
        await session.disconnect().catch(() => {});
      }
      await retention.stop();
      logger.info(`consumer of ${queue} stopped (${summary(counts)})`);
    }
  }

  return {
    queue,
    subscriptionId,
    run(signal?: AbortSignal) {
      if (running) return Promise.reject(new OutboxError('E_USAGE', 'this consumer is already running'));
      const combined = signal ? AbortSignal.any([signal, stopper.signal]) : stopper.signal;
      running = loop(combined);
      return running;
    },
    stop() {
      stopping ??= (async () => {
        stopper.abort();
        await running?.catch(() => {});
      })();
      return stopping;
    },
    stats: () => ({ ...counts }),
  };
}

/** A session that delivered nothing and ended sooner than this after connecting counts toward the backoff. */
const SHORT_LIVED_S = 10;

/** A promise that resolves (undefined) when `signal` aborts, and a way to drop its listener. */
function whenAborted(signal: AbortSignal): { promise: Promise<undefined>; dispose(): void } {
  let onAbort = (): void => {};
  const promise = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

function summary(c: ConsumerStats): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'no messages';
}

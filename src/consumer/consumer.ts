/**
 * `createConsumer()`: the idempotent inbox consumer. One durable subscription, kept alive across broker
 * restarts; up to `consumer.concurrency` handlers at once; a graceful drain on stop.
 */
import { randomUUID } from 'node:crypto';
import { createOutboxTables } from '../db/tables.js';
import { OutboxError } from '../errors.js';
import { defaultLogger } from '../log/logger.js';
import { createRetention } from '../retention/retention.js';
import { backoffSeconds } from '../util/backoff.js';
import { connectWithRetry } from '../stomp/reconnect.js';
import type { StompSession } from '../stomp/types.js';
import { attach, type Attachment } from './attachment.js';
import { declareDeadLetterQueue } from './dead-letter.js';
import type { DeliveryContext } from './deliver.js';
import { createDispatcher, type Dispatcher } from './dispatch.js';
import { GAVE_UP, persist } from './persist.js';
import { sleep } from '../util/sleep.js';
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
  const headers = subscribeHeaders(settings, queue);
  const logger = options.logger ?? defaultLogger('consumer');
  // One id for the life of the consumer: every reconnect subscribes with it again.
  const subscriptionId = `outbox-${queue}-${randomUUID().slice(0, 8)}`;
  const ctx: DeliveryContext = {
    handler: options.handler as DeliveryContext['handler'],
    inbox: inboxStatements(db, createOutboxTables(config.tables), queue),
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

  /**
   * Connect → declare the DLQ → subscribe → wait for the connection to end, again and again until the
   * signal aborts. A broker disconnect, at any step, only ever means "go round again".
   */
  async function loop(signal: AbortSignal): Promise<void> {
    // Before anything else: a missing inbox table is a setup mistake to report, not to retry per message.
    if ((await persist('looking at the inbox table', () => ctx.inbox.isRecorded(''), signal, logger)) === GAVE_UP) return;
    const dispatcher = createDispatcher(ctx, settings.concurrency, counts, logger);
    const gaveUp = new AbortController();
    // Inbox rows older than retention.days go in bounded batches, at most once per retention.interval
    // across every consumer and relay (the schedule is a row in the maintenance table).
    const retention = createRetention({ db, tables: config.tables, retention: config.retention, logger, targets: ['received'] });
    retention.start();
    const attachOptions = { destination, headers, subscriptionId, dispatcher, counts, logger, gaveUp: gaveUp.signal };
    let current: Attachment | undefined;
    // Connections in a row that ended soon, having delivered nothing: a broker that accepts the connection
    // but refuses the subscription (PRECONDITION_FAILED, access refused) must not become a hot reconnect loop.
    let shortLived = 0;
    try {
      while (!signal.aborted) {
        if (shortLived > 0 && !(await backOff(shortLived, signal))) break;
        const session = await connectUntilStopped(signal);
        if (!session) break;
        const connectedAt = Date.now();
        current = attach(session, attachOptions);
        await declareDeadLetterQueue(config, queue, logger, signal);
        if (signal.aborted) break;
        if (await current.subscribe()) {
          logger.info(
            `consuming ${destination} from queue ${queue} on ${session.address} ` +
              `(prefetch ${settings.prefetchCount}, concurrency ${settings.concurrency}, dead letters to ${ctx.deadLetterQueue})`,
          );
        }
        const ended = await endOf(session, signal);
        if (ended === STOPPED) break; // shutting down with the connection still open
        current.lost();
        // Deliveries not started yet belong to the dead connection: the broker redelivers them.
        dispatcher.dropWaiting();
        const brief = !current.deliveredAny && Date.now() - connectedAt < SHORT_LIVED_S * 1000;
        shortLived = brief ? shortLived + 1 : 0;
        current = undefined;
        if (!signal.aborted) logger.warn(`lost the broker connection (${ended?.message ?? 'closed'}); reconnecting and subscribing again`);
      }
    } finally {
      await drain(dispatcher, gaveUp);
      await current?.close();
      await retention.stop();
      logger.info(`consumer of ${queue} stopped (${summary(counts)})`);
    }
  }

  /** Waits before the next connection after `shortLived` brief ones; false when stopped meanwhile. */
  async function backOff(shortLived: number, signal: AbortSignal): Promise<boolean> {
    const delay = backoffSeconds(shortLived - 1, config.broker.maxBackoff);
    logger.warn(`the last ${shortLived} connection(s) ended within ${SHORT_LIVED_S} s without a message; subscribing again in ${delay.toFixed(1)} s`);
    return sleep(delay * 1000, signal);
  }

  /** A connection, retried with backoff; undefined when stopped first. */
  async function connectUntilStopped(signal: AbortSignal): Promise<StompSession | undefined> {
    // Its own signal: aborting the one given to connect() after it connected would disconnect at once,
    // before in-flight handlers are drained.
    const connecting = new AbortController();
    const onAbort = (): void => connecting.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await connectWithRetry({ broker: config.broker, logger, signal: connecting.signal });
    } catch (error) {
      if (signal.aborted) return undefined;
      throw error; // E_CONFIG: settings that cannot work
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Lets running handlers finish (up to consumer.shutdownTimeout); gives up on the rest. */
  async function drain(dispatcher: Dispatcher, gaveUp: AbortController): Promise<void> {
    const stillRunning = await dispatcher.close(settings.shutdownTimeout);
    if (stillRunning === 0) return;
    gaveUp.abort();
    logger.warn(
      `shutting down: ${stillRunning} handler(s) still running after consumer.shutdownTimeout (${settings.shutdownTimeout} s); ` +
        'their messages stay unacked and the broker will redeliver them',
    );
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

const STOPPED = Symbol('stopped');

/** How `session` ended (its reason, undefined for a clean close), or STOPPED if `signal` aborted first. */
async function endOf(session: StompSession, signal: AbortSignal): Promise<OutboxError | undefined | typeof STOPPED> {
  if (signal.aborted) return STOPPED;
  let onAbort = (): void => {};
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    onAbort = () => resolve(STOPPED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([session.closed, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function summary(c: ConsumerStats): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'no messages';
}

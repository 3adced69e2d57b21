/**
 * `createConsumer()`: the idempotent inbox consumer. One durable subscription, kept alive across broker
 * restarts; up to `consumer.concurrency` handlers at once; a graceful drain on stop.
 */
import { randomUUID } from 'node:crypto';
import { describeDbError } from '../db/errors.js';
import { createOutboxTables } from '../db/tables.js';
import { OutboxError } from '../errors.js';
import { defaultLogger } from '../log/logger.js';
import { createRetention } from '../retention/retention.js';
import { healthPart } from '../telemetry/health.js';
import { createConsumerMetrics } from '../telemetry/metrics.js';
import type { StompMessage, StompSession } from '../stomp/types.js';
import { brokerTraits, type ConsumeTarget } from '../transport/brokers.js';
import { createBrokerLink, HEALTHY_MS } from '../transport/link.js';
import { stompConnector } from '../transport/stomp.js';
import { lifecycle } from '../util/lifecycle.js';
import { createOutageLog } from '../util/outage.js';
import { ABORTED, within } from '../util/within.js';
import { messageIdOf } from '../wire/headers.js';
import { attach, type Attachment } from './attachment.js';
import { declareDeadLetterQueue } from './dead-letter.js';
import type { DeliveryContext } from './delivery.js';
import { createDispatcher, type Dispatcher } from './dispatch.js';
import { handlerForm } from './handler-form.js';
import { createInboxLookup } from './inbox-lookup.js';
import { createInboxReader, GAVE_UP, STATEMENT_DEADLINE_MS } from './inbox-read.js';
import { inboxStatements } from './sql.js';
import { consumeTargetProblem, deadLetterQueue, defaultQueueName } from './subscription.js';
import type { Consumer, ConsumerOptions, ConsumerStats, OutcomeCounts } from './types.js';

/** How long shutdown waits for a retention run in progress to reach its next batch. */
const RETENTION_STOP_MS = 5_000;

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
  if (!destination) throw new OutboxError('E_CONFIG', 'createConsumer needs a destination, e.g. /topic/orders');
  // A destination or queue the broker refuses would be refused at every SUBSCRIBE, on every reconnect.
  const target = consumeTargetProblem(destination, options.queue);
  if (target) throw new OutboxError('E_CONFIG', `createConsumer: ${target}`);
  const queue = options.queue || defaultQueueName(destination);
  if (typeof options.handler !== 'function') throw new OutboxError('E_CONFIG', 'createConsumer needs a handler function');
  const handler = options.handler as DeliveryContext['handler'];
  const logger = options.logger ?? defaultLogger('consumer');
  // One id for the life of the consumer: every reconnect subscribes with it again.
  const subscriptionId = `outbox-${queue}-${randomUUID().slice(0, 8)}`;
  const maxBackoff = config.database.maxBackoff;
  const inbox = inboxStatements(db, createOutboxTables(config.tables), queue);
  const ctx: DeliveryContext = {
    handler,
    form: handlerForm(handler, options.transaction),
    db,
    inbox,
    lookup: createInboxLookup({ queue, find: (ids) => inbox.findReceived(ids), deadlineMs: STATEMENT_DEADLINE_MS }),
    read: createInboxReader({ outage: createOutageLog(logger, 'read the inbox', describeDbError), maxBackoff }),
    logger,
    destination,
    deadLetterQueue: deadLetterQueue(queue),
    handlerTimeout: settings.handlerTimeout,
    maxBackoff,
    transactions: createOutageLog(logger, "run handlers' transactions", describeDbError),
  };
  const counts: OutcomeCounts = {
    received: 0, acked: 0, recorded: 0, duplicate: 0, nacked: 0, failed: 0, unsettled: 0, timeout: 0, invalid: 0, abandoned: 0,
  };
  let dispatcher: Dispatcher | undefined;
  // Telemetry (README "Telemetry"): no-ops without @opentelemetry/api.
  const metrics = createConsumerMetrics(queue, () => dispatcher?.hung ?? 0);
  const health = healthPart(`consumer of ${queue}`);
  // Connections in a row that ended soon, having delivered nothing: a broker that accepts the connection
  // but refuses the subscription (PRECONDITION_FAILED, access refused) must not become a hot reconnect loop.
  const link = createBrokerLink<StompSession>({
    connect: stompConnector(config.broker, { logger }),
    logger,
    maxBackoff: config.broker.maxBackoff,
    describeBackoff: (streak, seconds) =>
      `the last ${streak} connection(s) ended within ${HEALTHY_MS / 1000} s without a message; subscribing again in ${seconds.toFixed(1)} s`,
  });

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
  async function loop(outer: AbortSignal): Promise<void> {
    // Before anything else: a missing inbox table is a setup mistake to report, not to retry per message.
    if ((await ctx.read('look at the inbox table', () => ctx.inbox.isRecorded(''), outer)) === GAVE_UP) return;
    // Aborted, with the reason, when the consumer cannot go on; run() then rejects with it.
    const failed = new AbortController();
    const signal = AbortSignal.any([outer, failed.signal]);
    const handlers = createDispatcher(ctx, {
      concurrency: settings.concurrency,
      counts,
      logger,
      metrics,
      onFatal: (error) => {
        if (failed.signal.aborted) return;
        logger.error(`the consumer cannot go on: ${(error as Error)?.message ?? String(error)}`);
        failed.abort(error);
      },
    });
    dispatcher = handlers;
    const gaveUp = new AbortController();
    // Inbox rows older than retention.days go in bounded batches, at most once per retention.interval
    // across every consumer and relay (the schedule is a row in the maintenance table).
    const retention = createRetention({ db, tables: config.tables, retention: config.retention, logger, targets: ['received'] });
    retention.start();
    const attachOptions = {
      subscriptionId, dispatcher: handlers, counts, logger, gaveUp: gaveUp.signal, onDelivered: () => link.proven(),
      onUnreadable: (message: StompMessage, nacked: boolean) => {
        const id = messageIdOf(message.headers)?.id ?? message.headers['message-id'] ?? '';
        const what = `message ${JSON.stringify(id.slice(0, 80))} cannot be read (${message.discarded?.message})`;
        if (!nacked) return void counts.abandoned++;
        counts.invalid++;
        metrics.settled('invalid', undefined);
        logger.error(`${what}: dead-lettering it to ${ctx.deadLetterQueue} without running the handler`);
      },
    };
    let current: Attachment | undefined;
    health.start();
    try {
      while (!signal.aborted) {
        const session = await link.ensure(signal);
        if (!session) break;
        // What differs per broker (the queue's destination, its headers, the DLQ, the NACK): its table entry.
        const traits = brokerTraits(session.flavor);
        let target: ConsumeTarget;
        try {
          target = traits.consume(destination, queue, settings);
        } catch (error) {
          // A destination this broker cannot consume is refused on every connection: nothing to retry.
          session.destroy();
          failed.abort(error);
          break;
        }
        ctx.deadLetterQueue = target.deadLetterQueue;
        current = attach(session, { ...attachOptions, destination: target.destination, headers: target.headers, nackHeaders: traits.deadLetterNack });
        await declareDeadLetterQueue(config, target, logger, signal);
        if (signal.aborted) break;
        if (await current.subscribe()) {
          health.set(null);
          logger.info(
            `consuming ${destination} from queue ${target.queue} on ${traits.label} at ${session.address} ` +
              `(prefetch ${settings.prefetchCount}, concurrency ${settings.concurrency}, dead letters to ${ctx.deadLetterQueue})`,
          );
        }
        const ended = await within(session.closed, { signal });
        if (ended === ABORTED) break; // shutting down with the connection still open
        health.set(`lost the broker connection (${ended?.message ?? 'closed'})`);
        current.lost();
        // Deliveries not started yet belong to the dead connection: the broker redelivers them.
        handlers.dropWaiting();
        current = undefined;
        if (!signal.aborted) logger.warn(`lost the broker connection (${ended?.message ?? 'closed'}); reconnecting and subscribing again`);
      }
    } finally {
      // Failing, nothing is waited for: the handlers that hold the slots are the reason, or the database is.
      if (failed.signal.aborted) await drain(handlers, gaveUp, 0, 'the consumer failed');
      else await drain(handlers, gaveUp, settings.shutdownTimeout, `consumer.shutdownTimeout (${settings.shutdownTimeout} s)`);
      await current?.close();
      await within(retention.stop(), { ms: RETENTION_STOP_MS });
      health.dispose();
      metrics.close();
      logger.info(`consumer of ${queue} stopped (${summary({ ...counts, hung: handlers.hung })})`);
    }
    if (failed.signal.aborted) throw failed.signal.reason;
  }

  /** Lets running handlers finish (up to `timeout` seconds); gives up on the rest. */
  async function drain(d: Dispatcher, gaveUp: AbortController, timeout: number | null, after: string): Promise<void> {
    const stillRunning = await d.close(timeout);
    if (stillRunning === 0) return;
    gaveUp.abort();
    logger.warn(
      `shutting down: ${stillRunning} handler(s) still running after ${after}; ` +
        'the messages not yet settled stay unacked and the broker will redeliver them',
    );
  }

  return {
    queue,
    subscriptionId,
    ...lifecycle(loop),
    stats: () => ({ ...counts, hung: dispatcher?.hung ?? 0 }),
  };
}

function summary(c: ConsumerStats): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'no messages';
}

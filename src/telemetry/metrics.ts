/**
 * The relay's and the consumer's instruments (README "Telemetry" lists them with unit and labels), on the
 * global MeterProvider: register the SDK before `createRelay` / `createConsumer`, which create them.
 * Without `@opentelemetry/api` every method is a no-op.
 */
import { otelApi, SCOPE } from './api.js';

export interface RelayMetrics {
  /** One row confirmed by the broker, `seconds` after its SEND. */
  sent(destination: string, seconds: number): void;
  /** Rows whose send failed and that will be tried again (backoff, held behind a breaker). */
  retried(destination: string, count: number): void;
  /** Rows given up on: now `failed`, for `outbox retry`. */
  failed(destination: string, count: number): void;
  /** One claim statement: how long it took, how many rows it returned. */
  claimed(seconds: number): void;
  /** Sends written and not yet confirmed or failed: +1 at SEND, −1 at its end. */
  inFlight(delta: number): void;
  /**
   * Reports the sends in flight and the backlog (pending rows, oldest age in seconds) at each collection,
   * until the returned stop is called.
   */
  observeBacklog(read: () => Promise<{ pending: number; oldestAge: number | null }>): () => void;
}

export interface ConsumerMetrics {
  /** One delivery settled (or given up on): its outcome and how long it took from start to settlement. */
  settled(outcome: string, seconds: number | undefined): void;
  /** Handlers running: +1 when one starts, −1 when it ends. */
  inFlight(delta: number): void;
  /** The consumer stopped: its series are no longer reported. */
  close(): void;
}

/** How long a collection may wait for the backlog query; a slower database reports no value this time. */
const BACKLOG_TIMEOUT_MS = 2_000;

const NOOP_RELAY: RelayMetrics = { sent() {}, retried() {}, failed() {}, claimed() {}, inFlight() {}, observeBacklog: () => () => {} };
const NOOP_CONSUMER: ConsumerMetrics = { settled() {}, inFlight() {}, close() {} };

/** Histogram buckets in seconds: a local broker confirms in about a millisecond, a handler may take seconds. */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createRelayMetrics(): RelayMetrics {
  const api = otelApi();
  if (!api) return NOOP_RELAY;
  const meter = api.metrics.getMeter(SCOPE);
  const sent = meter.createCounter('outbox.relay.sent', { unit: '{message}', description: 'Rows confirmed by the broker (RECEIPT) and marked sent' });
  const retried = meter.createCounter('outbox.relay.retried', { unit: '{message}', description: 'Sends that failed and will be tried again' });
  const failed = meter.createCounter('outbox.relay.failed', { unit: '{message}', description: 'Rows given up on after relay.maxAttempts (status failed)' });
  const receipt = meter.createHistogram('outbox.relay.receipt.duration', { unit: 's', description: 'From SEND to its RECEIPT', advice: { explicitBucketBoundaries: SECONDS } });
  const claim = meter.createHistogram('outbox.relay.claim.duration', { unit: 's', description: 'One claim statement', advice: { explicitBucketBoundaries: SECONDS } });
  // Kept here and read at collection: two SDK calls per message fewer than an up-down counter.
  let sending = 0;
  const inFlight = meter.createObservableUpDownCounter('outbox.relay.in_flight', { unit: '{message}', description: 'Sends awaiting their RECEIPT' });
  const backlog = meter.createObservableGauge('outbox.relay.backlog', { unit: '{message}', description: 'Pending outbox rows' });
  const oldest = meter.createObservableGauge('outbox.relay.oldest_pending.age', { unit: 's', description: 'Age of the oldest pending row (0 when none)' });
  return {
    sent(destination, seconds) {
      const attributes = { destination };
      sent.add(1, attributes);
      receipt.record(seconds, attributes);
    },
    retried: (destination, count) => count > 0 && retried.add(count, { destination }),
    failed: (destination, count) => count > 0 && failed.add(count, { destination }),
    claimed: (seconds) => claim.record(seconds),
    inFlight: (delta) => void (sending += delta),
    observeBacklog(read) {
      const callback = async (result: import('@opentelemetry/api').BatchObservableResult) => {
        result.observe(inFlight, sending);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), BACKLOG_TIMEOUT_MS)));
        try {
          const value = await Promise.race([read(), late]);
          if (!value) return;
          result.observe(backlog, value.pending);
          result.observe(oldest, value.oldestAge ?? 0);
        } catch {
          // The database is away: no value this time (/readyz says why).
        } finally {
          clearTimeout(timer);
        }
      };
      meter.addBatchObservableCallback(callback, [inFlight, backlog, oldest]);
      return () => meter.removeBatchObservableCallback(callback, [inFlight, backlog, oldest]);
    },
  };
}

/** `hung`: handlers of `queue` running past consumer.handlerTimeout now (their messages already NACKed). */
export function createConsumerMetrics(queue: string, hungNow: () => number): ConsumerMetrics {
  const api = otelApi();
  if (!api) return NOOP_CONSUMER;
  const meter = api.metrics.getMeter(SCOPE);
  const messages = meter.createCounter('outbox.consumer.messages', { unit: '{message}', description: 'Deliveries by outcome' });
  const duration = meter.createHistogram('outbox.consumer.handler.duration', {
    unit: 's',
    description: 'From the start of a delivery (inbox lookup, handler, inbox row) to its ACK or NACK',
    advice: { explicitBucketBoundaries: SECONDS },
  });
  // Kept here and read at collection: two SDK calls per message fewer than an up-down counter.
  let running = 0;
  const inFlight = meter.createObservableUpDownCounter('outbox.consumer.in_flight', { unit: '{message}', description: 'Handlers running' });
  const hung = meter.createObservableUpDownCounter('outbox.consumer.hung', { unit: '{handler}', description: 'Handlers running past consumer.handlerTimeout' });
  const observe = (result: import('@opentelemetry/api').BatchObservableResult) => {
    result.observe(inFlight, running, { queue });
    result.observe(hung, hungNow(), { queue });
  };
  meter.addBatchObservableCallback(observe, [inFlight, hung]);
  return {
    settled(outcome, seconds) {
      const attributes = { queue, outcome };
      messages.add(1, attributes);
      if (seconds !== undefined) duration.record(seconds, attributes);
    },
    inFlight: (delta) => void (running += delta),
    close: () => meter.removeBatchObservableCallback(observe, [inFlight, hung]),
  };
}

/**
 * The consumer's telemetry for one delivery, in one object so the dispatcher calls it in three places: the
 * CONSUMER span the handler runs in, the in-flight count, and the outcome with its duration.
 */
import type { ConsumerMetrics } from './metrics.js';
import { startConsumeSpan } from './trace.js';

/** Outcomes whose frame is a NACK (README "Outcomes"): their spans are marked failed. */
const NACKED: ReadonlySet<string> = new Set(['nacked', 'failed', 'unsettled', 'timeout', 'invalid']);

export interface DeliveryWatch {
  /** Runs the delivery with its span active. */
  run<T>(fn: () => T): T;
  /** Its outcome, once. */
  settled(outcome: string): void;
  /** The delivery rejected (the consumer cannot go on); `reported`: an outcome was given before. */
  failed(error: unknown, reported: boolean): void;
  /** It ended (its handler too): closes the span, frees the in-flight count. */
  done(): void;
}

export function watchDelivery(
  metrics: ConsumerMetrics | undefined,
  headers: Record<string, string>,
  where: { destination: string; queue: string },
): DeliveryWatch {
  const span = startConsumeSpan(headers, where);
  const started = performance.now();
  metrics?.inFlight(1);
  return {
    run: (fn) => span.run(fn),
    settled(outcome) {
      metrics?.settled(outcome, (performance.now() - started) / 1000);
      span.outcome(outcome, NACKED.has(outcome));
    },
    failed(error, reported) {
      if (!reported) metrics?.settled('abandoned', undefined);
      span.end(error);
    },
    done() {
      span.end();
      metrics?.inFlight(-1);
    },
  };
}

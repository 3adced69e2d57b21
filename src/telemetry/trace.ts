/**
 * The three places a message's trace passes through the outbox (README "Telemetry"):
 *
 *   write   the active context goes on the row as `traceparent` (+ `tracestate`), only when one is active;
 *   relay   one PRODUCER span per row sent, a child of that stored context and linked to it (OpenTelemetry's
 *           messaging conventions: the creation context is a link); the message carries the stored
 *           `traceparent` unchanged, so the consumer's parent is the transaction that wrote the event;
 *   consume one CONSUMER span per delivery, a child of the incoming `traceparent`, active while the handler
 *           runs: its database spans and the events it writes continue the same trace.
 *
 * Without `@opentelemetry/api` (or without an SDK registered) these cost a property check and a no-op.
 */
import { otelApi, SCOPE } from './api.js';
import { formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from './traceparent.js';

const SYSTEM = 'rabbitmq';

/** The active trace context as message headers, or undefined when no span is active (or no API). */
export function activeTraceHeaders(): Record<string, string> | undefined {
  const api = otelApi();
  if (!api) return undefined;
  const span = api.trace.getSpanContext(api.context.active());
  if (!span || !api.trace.isSpanContextValid(span)) return undefined;
  const headers: Record<string, string> = { [TRACEPARENT]: formatTraceparent(span) };
  const state = span.traceState?.serialize();
  if (state) headers[TRACESTATE] = state;
  return headers;
}

/** A span under way; `end(error)` marks it failed. Safe to end twice (the second call is ignored). */
export interface MessageSpan {
  end(error?: unknown): void;
}

const NOOP: MessageSpan = { end() {} };

/** The span context stored in `headers`, or undefined. */
function remoteContext(headers: Record<string, unknown> | undefined) {
  const api = otelApi()!;
  const parent = parseTraceparent(headers?.[TRACEPARENT]);
  if (!parent) return undefined;
  const state = headers?.[TRACESTATE];
  return {
    ...parent,
    isRemote: true,
    traceState: typeof state === 'string' && state ? api.createTraceState(state) : undefined,
  };
}

/**
 * The relay's span for one row, from SEND to RECEIPT. `batchSize`: rows in the claimed batch it went in.
 */
export function startSendSpan(row: { id: string; destination: string; headers?: Record<string, unknown> }, batchSize: number): MessageSpan {
  const api = otelApi();
  if (!api) return NOOP;
  const created = remoteContext(row.headers);
  const parent = created ? api.trace.setSpanContext(api.ROOT_CONTEXT, created) : api.ROOT_CONTEXT;
  const span = api.trace.getTracer(SCOPE).startSpan(
    `send ${row.destination}`,
    {
      kind: api.SpanKind.PRODUCER,
      links: created ? [{ context: created }] : undefined,
      attributes: {
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': row.destination,
        'messaging.message.id': row.id,
        'messaging.batch.message_count': batchSize,
      },
    },
    parent,
  );
  return endOnce(span);
}

/** The consumer's span for one delivery; `run` makes it the active span while the handler runs. */
export interface ConsumeSpan extends MessageSpan {
  run<T>(fn: () => T): T;
  /** The delivery's outcome (acked, duplicate, nacked, …); a NACK outcome marks the span failed. */
  outcome(outcome: string, nacked: boolean): void;
}

const NOOP_CONSUME: ConsumeSpan = { run: (fn) => fn(), outcome() {}, end() {} };

export function startConsumeSpan(headers: Record<string, string>, info: { destination: string; queue: string }): ConsumeSpan {
  const api = otelApi();
  if (!api) return NOOP_CONSUME;
  const created = remoteContext(headers);
  const parent = created ? api.trace.setSpanContext(api.ROOT_CONTEXT, created) : api.ROOT_CONTEXT;
  const destination = headers.destination || info.destination;
  const id = headers['cap-msg-id'] || headers['dop-msg-id'];
  const span = api.trace.getTracer(SCOPE).startSpan(
    `process ${destination}`,
    {
      kind: api.SpanKind.CONSUMER,
      attributes: {
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': destination,
        'messaging.destination.subscription.name': info.queue,
        ...(id ? { 'messaging.message.id': id } : {}),
      },
    },
    parent,
  );
  if (!span.isRecording()) return NOOP_CONSUME;
  const active = api.trace.setSpan(parent, span);
  const ends = endOnce(span);
  return {
    run: (fn) => api.context.with(active, fn),
    outcome(outcome, nacked) {
      span.setAttribute('outbox.outcome', outcome);
      if (nacked) span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome });
    },
    end: ends.end,
  };
}

function endOnce(span: import('@opentelemetry/api').Span): MessageSpan {
  const api = otelApi()!;
  if (!span.isRecording()) return NOOP;
  let ended = false;
  return {
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        const message = error instanceof Error ? error.message : String(error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message });
        span.setAttribute('error.type', (error as { code?: string })?.code ?? 'Error');
      }
      span.end();
    },
  };
}

/**
 * W3C Trace Context (`traceparent`, `tracestate`) written and read by hand: the outbox stores the context
 * on the row and the consumer reads it off the message whatever propagator the application registered
 * (or none), so both ends agree on the one format every tracing backend reads.
 */

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const INVALID_TRACE = /^0+$/;

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceparent(p: TraceParent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The parsed header, or undefined for anything the spec says to ignore (version ff, all-zero ids, bad shape). */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string') return undefined;
  const m = FORMAT.exec(value.trim());
  if (!m || m[1] === 'ff' || (m[1] === '00' && value.trim().length !== 55)) return undefined;
  if (INVALID_TRACE.test(m[2]!) || INVALID_TRACE.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) };
}

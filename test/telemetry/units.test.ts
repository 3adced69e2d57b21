/**
 * The parts of telemetry that need no services: W3C traceparent in and out, the context a write stores
 * (with `tracestate`, and under the caller's own `traceparent`), and `--metrics` address parsing.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { outboxHeaders } from '../../src/publish/headers.js';
import { parseListen } from '../../src/telemetry/server.js';
import { activeTraceHeaders } from '../../src/telemetry/trace.js';
import { formatTraceparent, parseTraceparent } from '../../src/telemetry/traceparent.js';
import { installTracing } from './sdk.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('traceparent: round trip, and what the W3C spec says to ignore', () => {
  const header = `00-${TRACE}-${SPAN}-01`;
  assert.equal(parseTraceparent(header), { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED });
  assert.is(formatTraceparent(parseTraceparent(header)!), header);
  assert.is(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 0 }), `00-${TRACE}-${SPAN}-00`);
  // A later version may append fields; version 00 may not.
  assert.ok(parseTraceparent(`01-${TRACE}-${SPAN}-01-extra`));
  for (const bad of [
    undefined, 42, '', `00-${TRACE}-${SPAN}-01-extra`, `ff-${TRACE}-${SPAN}-01`, `00-${'0'.repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${SPAN}-01`, `00-${TRACE.slice(1)}-${SPAN}-01`, `00_${TRACE}_${SPAN}_01`,
  ]) {
    assert.is(parseTraceparent(bad), undefined, String(bad));
  }
});

test('a write stores the active span (and its tracestate); none outside a span; the caller\'s own traceparent wins', async () => {
  assert.is(activeTraceHeaders(), undefined, 'no SDK, no span');
  const tracing = installTracing();
  try {
    assert.is(activeTraceHeaders(), undefined, 'no active span');
    const tracer = trace.getTracer('units');
    await tracer.startActiveSpan('write', async (span) => {
      const headers = activeTraceHeaders()!;
      assert.is(headers.traceparent, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      assert.not.ok('tracestate' in headers);
      span.end();
    });
    const remote = trace.setSpanContext(context.active(), {
      traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: (await import('@opentelemetry/api')).createTraceState('vendor=x,other=y'),
    });
    await context.with(remote, async () => {
      const headers = activeTraceHeaders()!;
      assert.equal(headers, { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=x,other=y' });
      const row = { id: 'id', destination: '/topic/x', body: {} };
      const stored = outboxHeaders(row, 'now', 'corr', undefined, undefined, headers);
      assert.is(stored.traceparent, headers.traceparent);
      const own = outboxHeaders(row, 'now', 'corr', undefined, { traceparent: `00-${'1'.repeat(32)}-${SPAN}-01` }, headers);
      assert.is(own.traceparent, `00-${'1'.repeat(32)}-${SPAN}-01`, "the caller's header wins");
      assert.is(own.tracestate, 'vendor=x,other=y');
    });
  } finally {
    await tracing.uninstall();
  }
});

test('--metrics host:port', () => {
  assert.equal(parseListen('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
  assert.equal(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.equal(parseListen(':9464'), { host: '0.0.0.0', port: 9464 });
  assert.equal(parseListen('9464'), { host: '0.0.0.0', port: 9464 });
  assert.equal(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  for (const bad of ['', 'localhost', 'host:port', '1.2.3.4:70000']) {
    assert.throws(() => parseListen(bad), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /--metrics takes host:port/.test(e.message), bad);
  }
});

test.run();

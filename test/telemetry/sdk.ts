/**
 * An OpenTelemetry tracing SDK as an application registers one, with the in-memory exporter: spans are
 * kept for assertions. The async-hooks context manager is what carries the active span across awaits.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

export function installTracing(options: { batch?: boolean } = {}): { exporter: InMemorySpanExporter; provider: BasicTracerProvider; uninstall(): Promise<void> } {
  const exporter = new InMemorySpanExporter();
  const processor = options.batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    provider,
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

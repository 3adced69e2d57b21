/**
 * `@opentelemetry/api`, when the application installed it (an optional peer dependency). Loaded once,
 * synchronously, on first use: the write path asks for the active context inside the caller's transaction
 * and cannot wait for a dynamic import. A CommonJS copy of the API is fine beside an ESM one: both keep
 * their providers and context manager on one global, keyed by the API's major version.
 * Absent, every telemetry hook is a no-op.
 */
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';

let loaded: typeof Api | null | undefined;

/** The OpenTelemetry API, or null when it is not installed. */
export function otelApi(): typeof Api | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as typeof Api;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** The instrumentation scope every span and instrument of this library is created under. */
export const SCOPE = 'drizzle-outbox';

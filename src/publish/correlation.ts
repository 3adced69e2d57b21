import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

// Keyed on a global symbol so that two copies of this module (say, `src/` in tests and `dist/` through
// the package name, or two installed versions) still share one context instead of silently losing ids.
const KEY = Symbol.for('drizzle-outbox.correlation-context');
const context: AsyncLocalStorage<string> = ((globalThis as Record<symbol, unknown>)[KEY] ??= new AsyncLocalStorage<string>()) as AsyncLocalStorage<string>;

/**
 * Runs `fn` with an ambient correlation id: every outbox row written inside it (directly or through
 * awaited calls) carries `dop-correlation-id: id`. The consumer runs each handler inside the incoming
 * message's id, so a chain of events keeps one id.
 *
 * @example
 * await withCorrelationId(req.headers['x-request-id'], () => db.transaction(tx => insertOrderWithOutbox(tx, order)));
 */
export function withCorrelationId<T>(id: string, fn: () => T): T {
  return context.run(id, fn);
}

/** The ambient correlation id, if any. */
export function currentCorrelationId(): string | undefined {
  return context.getStore();
}

/** The ambient correlation id, or a new UUID when there is none (what an outbox row gets). */
export function correlationIdOrNew(): string {
  return context.getStore() ?? randomUUID();
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

const context = new AsyncLocalStorage<string>();

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

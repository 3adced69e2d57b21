/**
 * The bounded in-flight window of SENDs awaiting receipts. Callers beyond it queue in order; a freed
 * slot is handed straight to the oldest waiter, so sends leave in the order they were called.
 */
import type { OutboxError } from '../errors.js';

export interface SendWindow {
  /** Takes a slot now if one is free and nobody is queued. */
  tryAcquire(): boolean;
  /** Waits for a slot (in call order); rejects if the connection fails first. */
  acquire(): Promise<void>;
  /** Frees a slot (or hands it to the oldest waiter). */
  release(): void;
  failAll(error: OutboxError): void;
  /** Slots in use. */
  readonly used: number;
  /** Callers queued for a slot. */
  readonly waiting: number;
}

export function createWindow(size: number): SendWindow {
  let used = 0;
  const waiters: Array<{ resolve: () => void; reject: (e: OutboxError) => void }> = [];
  return {
    tryAcquire() {
      if (used >= size || waiters.length > 0) return false;
      used++;
      return true;
    },
    acquire() {
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    release() {
      const next = waiters.shift();
      if (next) next.resolve();
      else used--;
    },
    failAll(error) {
      for (const w of waiters.splice(0)) w.reject(error);
    },
    get used() {
      return used;
    },
    get waiting() {
      return waiters.length;
    },
  };
}

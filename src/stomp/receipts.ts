/**
 * Receipts awaited on one connection. Ids are short counters (`r1`, `r2`, … in base 36). Each receipt has
 * its own deadline; since every receipt gets the same timeout, insertion order is deadline order and one
 * timer, re-armed for the oldest, serves them all (no timer per SEND).
 * On ERROR or close the connection fails them all at once (`failAll`): RabbitMQ's ERROR frames never
 * carry a `receipt-id`, and a publisher nack closes the socket without one.
 */
import { OutboxError } from '../errors.js';

interface Waiter {
  resolve: () => void;
  reject: (error: OutboxError) => void;
  deadline: number;
  what: string;
  /** Called once when it settles either way (frees a slot of the send window). */
  release: (() => void) | undefined;
}

export interface Receipts {
  /** Registers a receipt; returns its id and a promise settled by the RECEIPT, a timeout, or failAll. */
  expect(what: string, release?: () => void): { id: string; done: Promise<void> };
  /** A RECEIPT frame arrived; false if nobody waits for that id (late, after a timeout). */
  settle(id: string): boolean;
  failAll(error: OutboxError): void;
  readonly size: number;
}

export function createReceipts(timeoutMs: number): Receipts {
  const waiting = new Map<string, Waiter>();
  let counter = 0;
  let timer: NodeJS.Timeout | undefined;

  function arm(): void {
    if (timer || waiting.size === 0) return;
    const oldest = waiting.values().next().value as Waiter;
    timer = setTimeout(expire, Math.max(0, oldest.deadline - Date.now()) + 1);
    timer.unref();
  }

  function expire(): void {
    timer = undefined;
    const now = Date.now();
    for (const [id, w] of waiting) {
      if (w.deadline > now) break;
      waiting.delete(id);
      w.release?.();
      w.reject(new OutboxError('E_RECEIPT_TIMEOUT', `no RECEIPT for ${w.what} within ${timeoutMs / 1000} s`));
    }
    arm();
  }

  return {
    expect(what, release) {
      const id = 'r' + (++counter).toString(36);
      let waiter!: Waiter;
      const done = new Promise<void>((resolve, reject) => {
        waiter = { resolve, reject, deadline: Date.now() + timeoutMs, what, release };
      });
      waiting.set(id, waiter);
      arm();
      return { id, done };
    },
    settle(id) {
      const w = waiting.get(id);
      if (!w) return false;
      waiting.delete(id);
      w.release?.();
      w.resolve();
      if (waiting.size === 0 && timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      return true;
    },
    failAll(error) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const all = [...waiting.values()];
      waiting.clear();
      for (const w of all) {
        w.release?.();
        w.reject(error);
      }
    },
    get size() {
      return waiting.size;
    },
  };
}

/**
 * Receipts awaited on one connection. Ids are short counters (`r1`, `r2`, … in base 36). Each receipt has
 * its own deadline; since every receipt gets the same timeout, insertion order is deadline order and one
 * timer, re-armed for the oldest, serves them all (no timer per SEND).
 * On ERROR or close the connection fails them all at once (`failAll`): RabbitMQ's ERROR frames never
 * carry a `receipt-id`, and a publisher nack closes the socket without one.
 */
import { OutboxError } from '../errors.js';
import { monotonicMs } from '../util/clock.js';

interface Waiter {
  resolve: () => void;
  reject: (error: OutboxError) => void;
  deadline: number;
  /** For the timeout message: `SEND` and `/queue/x`, joined only if it is ever needed. */
  command: string;
  target: string;
  /** Called once when it settles either way (frees a slot of the send window). */
  release: (() => void) | undefined;
}

export interface Receipts {
  /** Registers a receipt; returns its id and a promise settled by the RECEIPT, a timeout, or failAll. */
  expect(command: string, target?: string): { id: string; done: Promise<void> };
  /** The same with the caller's own resolve/reject (no extra promise on the hot path); returns the id. */
  register(command: string, target: string, resolve: () => void, reject: (error: OutboxError) => void, release?: () => void): string;
  /** A RECEIPT frame arrived; false if nobody waits for that id (late, after a timeout). */
  settle(id: string): boolean;
  /** Forgets a receipt without settling it (the frame was never written); frees its slot. */
  cancel(id: string): void;
  failAll(error: OutboxError): void;
}

export function createReceipts(timeoutMs: number): Receipts {
  const waiting = new Map<string, Waiter>();
  let counter = 0;
  let timer: NodeJS.Timeout | undefined;

  function arm(): void {
    if (timer || waiting.size === 0) return;
    const oldest = waiting.values().next().value as Waiter;
    timer = setTimeout(expire, Math.max(0, oldest.deadline - monotonicMs()) + 1);
    timer.unref();
  }

  function expire(): void {
    timer = undefined;
    const now = monotonicMs();
    for (const [id, w] of waiting) {
      if (w.deadline > now) break;
      waiting.delete(id);
      w.release?.();
      const what = w.target ? `${w.command} to ${w.target}` : w.command;
      w.reject(new OutboxError('E_RECEIPT_TIMEOUT', `no RECEIPT for ${what} within ${timeoutMs / 1000} s`));
    }
    arm();
  }

  function register(command: string, target: string, resolve: () => void, reject: (error: OutboxError) => void, release?: () => void): string {
    const id = 'r' + (++counter).toString(36);
    waiting.set(id, { resolve, reject, deadline: monotonicMs() + timeoutMs, command, target, release });
    arm();
    return id;
  }

  return {
    expect(command, target = '') {
      let id!: string;
      const done = new Promise<void>((resolve, reject) => {
        id = register(command, target, resolve, reject);
      });
      return { id, done };
    },
    register,
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
    cancel(id) {
      const w = waiting.get(id);
      if (!w) return;
      waiting.delete(id);
      w.release?.();
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
  };
}

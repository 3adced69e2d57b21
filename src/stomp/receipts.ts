/**
 * Receipts awaited on one connection. Ids are short counters (`r1`, `r2`, … in base 36).
 *
 * A receipt's deadline (`broker.receiptTimeout`) starts when its frame is handed to the socket (`written()`),
 * not when it is queued: while the broker is not reading (a resource alarm blocks publishers, the socket
 * backs up) frames wait in our queue without spending their time. Frames are written in the order they are
 * registered and every receipt gets the same timeout, so insertion order is deadline order and one timer,
 * re-armed for the oldest, serves them all (no timer per SEND).
 *
 * A receipt that does not come in time means the connection is no longer trustworthy — the broker confirms
 * in order, so nothing after it will be confirmed either — and `onTimeout` is told (the session closes the
 * connection, failing every receipt at once). On ERROR or close the connection fails them all (`failAll`):
 * RabbitMQ's ERROR frames never carry a `receipt-id`, and a publisher nack closes the socket without one.
 */
import { OutboxError } from '../errors.js';
import { monotonicMs } from '../util/clock.js';

interface Waiter {
  resolve: () => void;
  reject: (error: OutboxError) => void;
  /** Monotonic ms; Infinity until the frame is written. */
  deadline: number;
  /** For the timeout message: `SEND` and `/queue/x`, joined only if it is ever needed. */
  command: string;
  target: string;
  /** Called once when it settles either way (frees a slot of the send window). */
  release: (() => void) | undefined;
}

export interface Receipts {
  /** Registers a receipt; returns its id and a promise settled by the RECEIPT or failAll. */
  expect(command: string, target?: string): { id: string; done: Promise<void> };
  /** The same with the caller's own resolve/reject (no extra promise on the hot path); returns the id. */
  register(command: string, target: string, resolve: () => void, reject: (error: OutboxError) => void, release?: () => void): string;
  /** Every frame registered so far has been handed to the socket: their deadlines start now. */
  written(): void;
  /** A RECEIPT frame arrived; false if nobody waits for that id. */
  settle(id: string): boolean;
  /** Forgets a receipt without settling it (the frame was never written); frees its slot. */
  cancel(id: string): void;
  failAll(error: OutboxError): void;
}

export function createReceipts(timeoutMs: number, onTimeout: (error: OutboxError) => void): Receipts {
  const waiting = new Map<string, Waiter>();
  // Registered, not yet written: their deadlines start at the next `written()`.
  let unwritten: Waiter[] = [];
  let counter = 0;
  let timer: NodeJS.Timeout | undefined;

  function arm(): void {
    if (timer || waiting.size === 0) return;
    const oldest = waiting.values().next().value as Waiter;
    if (oldest.deadline === Infinity) return;
    timer = setTimeout(expire, Math.max(0, oldest.deadline - monotonicMs()) + 1);
    timer.unref();
  }

  function expire(): void {
    timer = undefined;
    const oldest = waiting.values().next().value as Waiter | undefined;
    if (!oldest) return;
    if (oldest.deadline > monotonicMs()) return arm();
    const what = oldest.target ? `${oldest.command} to ${oldest.target}` : oldest.command;
    onTimeout(new OutboxError('E_RECEIPT_TIMEOUT', `no RECEIPT for ${what} within ${timeoutMs / 1000} s`));
  }

  function register(command: string, target: string, resolve: () => void, reject: (error: OutboxError) => void, release?: () => void): string {
    const id = 'r' + (++counter).toString(36);
    const waiter: Waiter = { resolve, reject, deadline: Infinity, command, target, release };
    waiting.set(id, waiter);
    unwritten.push(waiter);
    return id;
  }

  function disarm(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
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
    written() {
      if (unwritten.length === 0) return;
      const deadline = monotonicMs() + timeoutMs;
      for (const w of unwritten) w.deadline = deadline;
      unwritten = [];
      arm();
    },
    settle(id) {
      const w = waiting.get(id);
      if (!w) return false;
      waiting.delete(id);
      w.release?.();
      w.resolve();
      // The timer stays set for the settled one's deadline; when it fires, it re-arms for the new oldest.
      if (waiting.size === 0) disarm();
      return true;
    },
    cancel(id) {
      const w = waiting.get(id);
      if (!w) return;
      waiting.delete(id);
      unwritten = unwritten.filter((u) => u !== w);
      w.release?.();
    },
    failAll(error) {
      disarm();
      const all = [...waiting.values()];
      waiting.clear();
      unwritten = [];
      for (const w of all) {
        w.release?.();
        w.reject(error);
      }
    },
  };
}

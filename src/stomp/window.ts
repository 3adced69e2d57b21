/**
 * The bounded in-flight window of SENDs awaiting receipts. Sends beyond it queue in call order; a freed
 * slot is handed straight to the oldest queued send, which `run` writes synchronously (inside the
 * RECEIPT's data event), so sends leave in the order they were called and refills coalesce into one write.
 */
import type { OutboxError } from '../errors.js';

export interface SendWindow<T> {
  /** Takes a slot now if one is free and nobody is queued. */
  tryAcquire(): boolean;
  /** Queues an item until a slot frees up; `run(item)` is then called with the slot taken. */
  enqueue(item: T): void;
  /** Frees a slot, or hands it to the oldest queued item. */
  release(): void;
  /** Resolves once no slot is used and nothing is queued (now, or when the last receipt settles). */
  idle(): Promise<void>;
  /** Calls `fail(item, error)` for every queued item (the connection ended). */
  failAll(error: OutboxError): void;
  /** Slots in use. */
  readonly used: number;
}

export function createWindow<T>(size: number, run: (item: T) => void, fail: (item: T, error: OutboxError) => void): SendWindow<T> {
  let used = 0;
  // A FIFO with a moving head: Array#shift is O(n) on the long queues a burst builds.
  let queue: Array<T | undefined> = [];
  let head = 0;
  let idleWaiters: Array<() => void> = [];

  function next(): T | undefined {
    if (head === queue.length) return undefined;
    const item = queue[head];
    queue[head++] = undefined;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head >= 1024 && head * 2 >= queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    return item;
  }

  return {
    tryAcquire() {
      if (used >= size || head < queue.length) return false;
      used++;
      return true;
    },
    enqueue(item) {
      queue.push(item);
    },
    release() {
      const item = next();
      if (item !== undefined) return run(item);
      used--;
      if (used === 0 && idleWaiters.length > 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    },
    idle() {
      if (used === 0 && head === queue.length) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    failAll(error) {
      const waiting = queue.slice(head) as T[];
      queue = [];
      head = 0;
      for (const item of waiting) fail(item, error);
    },
    get used() {
      return used;
    },
  };
}

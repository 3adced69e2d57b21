/**
 * Coalescing, backpressure-aware writes. Frames written in the same turn of the event loop go to the socket
 * as one buffer (one syscall, one TCP segment train: this is most of pipelined throughput). When
 * `socket.write` returns false, nothing more is written until 'drain'; frames keep queueing meanwhile
 * (their number is bounded by the caller: the send window, or callers awaiting `written()`).
 */
import type { Socket } from 'node:net';
import type { OutboxError } from '../errors.js';

export interface Writer {
  /** Queues an encoded frame: text frames are joined and encoded once, with their neighbours. */
  write(frame: string | Buffer): void;
  /**
   * Resolves once everything written so far has been handed to the socket and the socket takes more
   * (after 'drain' if it was full); rejects if the connection closes first.
   */
  written(): Promise<void>;
  /** Writes what is queued now (the end of a data event: refills go out as the raw loop's would). */
  flush(): void;
  /** True while bytes wait to be handed to the socket (queued, or the socket is full). */
  readonly busy: boolean;
  /** Drops what is queued and fails every waiter with `error`. */
  close(error: OutboxError): void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: OutboxError) => void;
}

/** Queued bytes that trigger a flush without waiting for the end of the turn (bounds the copy). */
const FLUSH_AT_BYTES = 1024 * 1024;

export function createWriter(socket: Socket, onWrite?: () => void): Writer {
  // Consecutive text frames are joined into one string; Buffers (binary bodies) stay apart.
  let queue: Array<string | Buffer> = [];
  let queued = 0;
  let scheduled = false;
  let blocked = false;
  let closed = false;
  // Waiting for the frames now in `queue` to be written; then for 'drain' if the socket was full.
  let queueWaiters: Waiter[] = [];
  let drainWaiters: Waiter[] = [];

  function flush(): void {
    scheduled = false;
    if (blocked || closed || queue.length === 0) return;
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue.map(toBuffer));
    const waiters = queueWaiters;
    queue = [];
    queued = 0;
    queueWaiters = [];
    onWrite?.();
    if (socket.write(data)) {
      for (const w of waiters) w.resolve();
    } else {
      blocked = true;
      drainWaiters.push(...waiters);
      socket.once('drain', onDrain);
    }
  }

  function onDrain(): void {
    blocked = false;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const w of waiters) w.resolve();
    flush();
  }

  return {
    write(frame) {
      if (closed) return;
      const last = queue.length - 1;
      if (typeof frame === 'string' && last >= 0 && typeof queue[last] === 'string') queue[last] += frame;
      else queue.push(frame);
      // Characters, not bytes, for text: close enough for a flush threshold.
      queued += frame.length;
      if (blocked) return;
      if (queued >= FLUSH_AT_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        // After the current I/O callbacks: every frame produced by this batch of events goes out together.
        setImmediate(flush);
      }
    },
    written() {
      if (closed) return Promise.resolve();
      if (queue.length === 0 && !blocked) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        (queue.length > 0 ? queueWaiters : drainWaiters).push({ resolve, reject });
      });
    },
    flush() {
      if (queue.length > 0) flush();
    },
    get busy() {
      return blocked || queue.length > 0;
    },
    close(error) {
      closed = true;
      queue = [];
      queued = 0;
      socket.off('drain', onDrain);
      const waiters = [...queueWaiters, ...drainWaiters];
      queueWaiters = [];
      drainWaiters = [];
      for (const w of waiters) w.reject(error);
    },
  };
}

const toBuffer = (item: string | Buffer): Buffer => (typeof item === 'string' ? Buffer.from(item, 'utf8') : item);

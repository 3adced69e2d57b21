/**
 * Coalescing, backpressure-aware writes. Frames written in the same turn of the event loop go to the socket
 * as one buffer (one syscall, one TCP segment train: this is most of pipelined throughput). When
 * `socket.write` returns false, nothing more is written until 'drain'; frames keep queueing meanwhile
 * (their number is bounded by the caller: the send window).
 */
import type { Socket } from 'node:net';

export interface Writer {
  write(frame: Buffer): void;
  /** Undefined when the socket takes more now, else a promise for 'drain' (or close). */
  writable(): Promise<void> | undefined;
  /** Drops what is queued and wakes every waiter. */
  close(): void;
}

export function createWriter(socket: Socket, onWrite?: () => void): Writer {
  let queue: Buffer[] = [];
  let queued = 0;
  let scheduled = false;
  let blocked = false;
  let closed = false;
  let drained: { promise: Promise<void>; resolve: () => void } | undefined;

  function flush(): void {
    scheduled = false;
    if (blocked || closed || queue.length === 0) return;
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, queued);
    queue = [];
    queued = 0;
    onWrite?.();
    if (!socket.write(data)) {
      blocked = true;
      socket.once('drain', onDrain);
    }
  }

  function onDrain(): void {
    blocked = false;
    flush();
    if (!blocked) wake();
  }

  function wake(): void {
    const d = drained;
    drained = undefined;
    d?.resolve();
  }

  return {
    write(frame) {
      if (closed) return;
      queue.push(frame);
      queued += frame.length;
      if (!scheduled && !blocked) {
        scheduled = true;
        // After the current I/O callbacks: every frame produced by this batch of events goes out together.
        setImmediate(flush);
      }
    },
    writable() {
      if (!blocked || closed) return undefined;
      if (!drained) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        drained = { promise, resolve };
      }
      return drained.promise;
    },
    close() {
      closed = true;
      queue = [];
      queued = 0;
      socket.off('drain', onDrain);
      wake();
    },
  };
}

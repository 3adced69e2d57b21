/**
 * Lanes (README "Ordering"): with `consumer.concurrency` above 1, messages that carry an `outbox-key` are
 * handled one at a time per destination and key, in arrival order; messages of other keys, and messages
 * without a key, run beside them as before. A message whose key is busy waits in its place; the dispatcher
 * starts the first waiting message that is free to go.
 *
 * A key's lane is held until its handler settles, even past `consumer.handlerTimeout` (the message is NACKed
 * by then, but its handler may still be writing): the key's next message must not overtake writes that may
 * still commit.
 */
import { DESTINATION, KEY } from '../wire/headers.js';
import type { StompMessage } from '../stomp/types.js';

export interface Lanes {
  /** Index in `waiting` of the first message free to start now (its key idle, or no key); -1 if none. */
  next(waiting: readonly { message: StompMessage }[]): number;
  /** Its handler starts: the key's lane is busy. */
  enter(message: StompMessage): void;
  /** Its handler settled: the key's next message may start. */
  leave(message: StompMessage): void;
  /** Keys with a handler running now. */
  readonly busy: number;
}

/** The lane of a message: its destination and key; undefined for an unordered message. */
export function laneOf(message: StompMessage): string | undefined {
  const key = message.headers[KEY];
  if (key === undefined) return undefined;
  return `${message.headers[DESTINATION] ?? message.headers.destination ?? ''}\u0000${key}`;
}

export function createLanes(): Lanes {
  const busy = new Set<string>();
  return {
    next(waiting) {
      for (let i = 0; i < waiting.length; i++) {
        const lane = laneOf(waiting[i]!.message);
        if (lane === undefined || !busy.has(lane)) return i;
      }
      return -1;
    },
    enter(message) {
      const lane = laneOf(message);
      if (lane !== undefined) busy.add(lane);
    },
    leave(message) {
      const lane = laneOf(message);
      if (lane !== undefined) busy.delete(lane);
    },
    get busy() {
      return busy.size;
    },
  };
}

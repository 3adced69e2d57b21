/**
 * Chaining (README "Inbox"): a `(payload, { tx })` transaction about to commit while another message waits
 * for a handler slot sends that message's BEGIN and inbox claim with its COMMIT, on the same connection,
 * and hands the connection on to it: one round trip where there were two. The waiting message is taken
 * from the queue when the COMMIT is armed (in order, its lane held), started on the connection once the
 * COMMIT went through, and given back to the head of the queue if it did not (then nothing of it stays).
 * The first message is acked once the whole round trip is answered: the next one's claim gives up a lock wait
 * after a moment and goes again on its own (deferred-begin.ts), so no handler's lock holds that ACK back.
 */
import type { OpenTransaction } from '../db/transaction.js';
import type { Delivery } from './delivery.js';
import type { PayloadInit } from './payload.js';

/** A message that passed the checks needing no database: the payload's fields, and what to warn of. */
export interface Checked {
  init: PayloadInit;
  warnings: string[];
}

/** A waiting message taken to start on the connection of the transaction before it. */
export interface Successor {
  delivery: Delivery;
  checked: Checked;
}

/** The dispatcher's side of chaining. */
export interface Successors {
  /** The message that would start next, if one can start now (its lane free), out of the queue. */
  take(): Successor | undefined;
  /** Back to the head of the queue: its claim did not go, or did not stay. */
  giveBack(next: Successor): void;
  /** Starts it in the transaction the COMMIT opened for it. */
  start(next: Successor, open: OpenTransaction): void;
}

/** How a delivery starts: where it may hand its connection on, and the transaction opened for it, if any. */
export interface Start {
  successors?: Successors;
  chained?: { checked: Checked; open: OpenTransaction };
}

import { OutboxError } from '../errors.js';
import type { OutboxTx } from '../db/types.js';
import type { InboxStatements } from './sql.js';
import type { Payload } from './types.js';

/** What the handler did with its payload, read by the consumer once the handler returns. */
export interface PayloadState {
  /** An inbox insert returned a row in some transaction (whether it committed is checked separately). */
  saved: boolean;
  /** An inbox insert found the id committed by another delivery: the handler's effects must not commit. */
  duplicate: boolean;
  /** `nack()` was called. */
  nacked: boolean;
  /** Set when the consumer has sent ACK/NACK; from then on `save` refuses, so late effects roll back. */
  settled: boolean;
}

export interface PayloadInit {
  body: unknown;
  headers: Record<string, string>;
  messageId: string;
  correlationId: string;
  destination: string;
}

/**
 * Builds the handler's payload and the state the consumer reads back. `save` and `nack` only record the
 * decision; the consumer sends the one ACK or NACK after the handler returns, so the two always exclude
 * each other and each happens at most once.
 */
export function createPayload<T>(init: PayloadInit, inbox: InboxStatements): {
  payload: Payload<T>;
  state: PayloadState;
  /** The consumer recorded the message in `tx` itself (claimReceived): a save(tx) by the handler is then a no-op. */
  recordedIn(tx: OutboxTx): void;
} {
  const state: PayloadState = { saved: false, duplicate: false, nacked: false, settled: false };
  // The transactions this payload already saved in: a second save in the same one would otherwise see
  // its own row as a conflict and roll back the very effects it recorded.
  const savedIn = new WeakSet<object>();
  const settledError = () =>
    new OutboxError('E_SETTLED', `message ${init.messageId} was already acked or nacked; its transaction must roll back`);

  const payload: Payload<T> = Object.freeze({
    body: init.body as T,
    headers: Object.freeze({ ...init.headers }),
    messageId: init.messageId,
    correlationId: init.correlationId,
    destination: init.destination,
    redelivered: init.headers.redelivered === 'true',
    async save(tx: OutboxTx): Promise<void> {
      if (state.settled) throw settledError();
      if (savedIn.has(tx)) return;
      const inserted = await inbox.insertReceived(tx, {
        messageId: init.messageId,
        destination: init.destination,
        body: init.body,
        headers: init.headers,
      });
      // Settled while the insert waited (a handler timeout): refuse, so this transaction rolls back.
      if (state.settled) throw settledError();
      if (!inserted) {
        state.duplicate = true;
        throw new OutboxError('E_DUPLICATE', `message ${init.messageId} was already handled; rolling back this delivery`);
      }
      savedIn.add(tx);
      state.saved = true;
    },
    nack(): void {
      state.nacked = true;
    },
  });
  const recordedIn = (tx: OutboxTx): void => {
    savedIn.add(tx);
    state.saved = true;
  };
  return { payload, state, recordedIn };
}

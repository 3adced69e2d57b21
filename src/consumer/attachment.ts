/**
 * One broker connection's share of consuming: the subscription on it, and the settling of the messages it
 * delivered. A message can only be ACKed or NACKed on the connection that delivered it, while that
 * connection (and, on RabbitMQ, its subscription) lives; after that the broker redelivers it, so `settle`
 * answers false and the delivery ends `abandoned`.
 */
import type { Logger } from '../log/logger.js';
import type { StompMessage, StompSession, Subscription } from '../stomp/types.js';
import type { Dispatcher } from './dispatch.js';
import type { OutcomeCounts } from './types.js';
import { TIMED_OUT, within } from '../util/within.js';

export interface AttachOptions {
  destination: string;
  headers: Record<string, string>;
  /** NACK headers that dead-letter on this broker (RabbitMQ's `requeue:false`). */
  nackHeaders: Readonly<Record<string, string>>;
  /** The same on every connection, so the broker sees one consumer coming back. */
  subscriptionId: string;
  dispatcher: Dispatcher;
  counts: OutcomeCounts;
  logger: Logger;
  /** Aborted when shutdown stops waiting for handlers: their database retries give up too. */
  gaveUp: AbortSignal;
  /** A message came on this connection (it proved itself: losing it later is not a quick failure). */
  onDelivered?(): void;
  /** A message that could not be read (`discarded`) was NACKed, or could not be (`nacked` false). */
  onUnreadable(message: StompMessage, nacked: boolean): void;
}

export interface Attachment {
  readonly session: StompSession;
  /**
   * Subscribes. Resolves false when the connection had already ended (an ERROR, a heart-beat loss or a
   * close right after CONNECTED): the caller reconnects, as for any other lost connection. Throws only
   * for a SUBSCRIBE that cannot be sent on a live connection (a bug, not the broker).
   */
  subscribe(): Promise<boolean>;
  /** The connection ended: nothing more is settled on it, and handlers' database waits for it give up. */
  lost(): void;
  /** Shutdown, after the drain: stops settling, then UNSUBSCRIBE and DISCONNECT. */
  close(): Promise<void>;
}

export function attach(session: StompSession, options: AttachOptions): Attachment {
  const { dispatcher, counts, logger } = options;
  const gone = new AbortController();
  const abandoned = AbortSignal.any([gone.signal, options.gaveUp]);
  let live = true;
  let subscription: Subscription | undefined;

  const onMessage = (message: StompMessage): void => {
    counts.received++;
    options.onDelivered?.();
    if (message.discarded) {
      // Nothing to look up or run: NACKed at once, without waiting for a handler slot. A connection whose
      // content-length lied ends right after this message, and the NACK must be written before.
      if (live) session.nack(message, { ...options.nackHeaders });
      options.onUnreadable(message, live);
      return;
    }
    if (!dispatcher.accepting) {
      // Not acked: the broker redelivers it once this connection closes.
      logger.debug(`shutting down: leaving message ${message.headers['message-id'] ?? ''} for redelivery`);
      return;
    }
    dispatcher.push({
      message,
      abandoned,
      settle(kind) {
        if (!live) return false;
        if (kind === 'ack') session.ack(message);
        else session.nack(message, { ...options.nackHeaders });
        return true;
      },
    });
  };

  return {
    session,
    async subscribe() {
      try {
        subscription = session.subscribe(options.destination, options.headers, onMessage, options.subscriptionId);
        return true;
      } catch (error) {
        // Whatever the reason the connection ended (its code varies: ERROR, heart-beat, protocol, close),
        // an ended connection is the broker's doing and means reconnect.
        if (await hasEnded(session)) return false;
        throw error;
      }
    },
    lost() {
      live = false;
      gone.abort();
    },
    async close() {
      // Only now, after the drain: on RabbitMQ a message cannot be acked once its subscription is gone.
      live = false;
      await subscription?.unsubscribe().catch(() => {});
      await session.disconnect().catch(() => {});
    },
  };
}

/**
 * Whether `session` has ended. A session resolves `closed` in the same step that ends it, so an ended one
 * answers within the current microtasks, before any timer fires.
 */
async function hasEnded(session: StompSession): Promise<boolean> {
  return (await within(session.closed, { ms: 0 })) !== TIMED_OUT;
}

/**
 * The subscriptions of one session: SUBSCRIBE/UNSUBSCRIBE with receipts, MESSAGE dispatch, ACK/NACK by the
 * STOMP 1.2 `ack` header. A handler that throws or rejects is logged; it never reaches the socket handler.
 */
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Receipts } from './receipts.js';
import type { Frame, StompMessage, Subscription } from './types.js';

export interface Subscriptions {
  subscribe(destination: string, headers: Record<string, string>, onMessage: (m: StompMessage) => unknown, id?: string): Subscription;
  /** A MESSAGE frame arrived; `discarded` when it was over the parser's limits (its body is empty). */
  deliver(frame: Frame, discarded?: OutboxError): void;
  acknowledge(command: 'ACK' | 'NACK', message: StompMessage, headers: Record<string, string> | undefined): void;
  /** The connection ended: forget every subscription. */
  clear(): void;
}

export function createSubscriptions(options: {
  logger: Logger;
  receipts: Receipts;
  writeFrame: (command: string, headers: Record<string, string>) => void;
  isOpen: () => boolean;
}): Subscriptions {
  const { logger, receipts, writeFrame, isOpen } = options;
  const active = new Map<string, { destination: string; onMessage: (m: StompMessage) => unknown }>();
  // Messages this connection delivered: an ack id means nothing on another connection.
  const delivered = new WeakSet<StompMessage>();
  let counter = 0;

  return {
    subscribe(destination, headers, onMessage, id) {
      const subId = id ?? headers.id ?? `s${++counter}`;
      if (active.has(subId)) throw new OutboxError('E_INVALID_FRAME', `subscription id "${subId}" is already in use`);
      const frameHeaders: Record<string, string> = { destination, id: subId };
      for (const name in headers) if (name !== 'destination' && name !== 'id' && name !== 'receipt') frameHeaders[name] = headers[name]!;
      // A receipt tells the caller when the broker has set the subscription up (queue declared, bound).
      const confirmed = receipts.expect('SUBSCRIBE', destination);
      // Whoever ignores `ready` must not get an unhandled rejection when the connection fails.
      confirmed.done.catch(() => {});
      frameHeaders.receipt = confirmed.id;
      try {
        writeFrame('SUBSCRIBE', frameHeaders);
      } catch (error) {
        // Never written (a header that cannot be encoded): no RECEIPT will come, so no timeout may fire either.
        receipts.cancel(confirmed.id);
        throw error;
      }
      active.set(subId, { destination, onMessage });
      let unsubscribing: Promise<void> | undefined;
      return {
        id: subId,
        destination,
        ready: confirmed.done,
        unsubscribe() {
          unsubscribing ??= (async () => {
            if (!active.delete(subId) || !isOpen()) return;
            const r = receipts.expect('UNSUBSCRIBE', subId);
            writeFrame('UNSUBSCRIBE', { id: subId, receipt: r.id });
            await r.done;
          })();
          return unsubscribing;
        },
      };
    },

    deliver(frame, discarded) {
      const id = frame.headers.subscription ?? '';
      const sub = active.get(id);
      if (!sub) {
        logger.debug(`MESSAGE for unknown subscription "${id}" dropped`);
        return;
      }
      const message = frame as StompMessage;
      message.subscription = id;
      message.ackId = frame.headers.ack ?? frame.headers['message-id'] ?? '';
      if (discarded) message.discarded = discarded;
      delivered.add(message);
      try {
        const result = sub.onMessage(message);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (error) => logger.error(`message handler for ${sub.destination} failed: ${String(error)}`));
        }
      } catch (error) {
        logger.error(`message handler for ${sub.destination} threw: ${(error as Error)?.message ?? String(error)}`);
      }
    },

    acknowledge(command, message, headers) {
      if (!isOpen()) {
        logger.debug(`${command} of a message after its connection closed: the broker will redeliver it`);
        return;
      }
      if (!delivered.has(message)) {
        logger.warn(`${command} of a message another connection delivered: ignored (the broker will redeliver it)`);
        return;
      }
      writeFrame(command, { ...headers, id: message.ackId });
    },

    clear() {
      active.clear();
    },
  };
}

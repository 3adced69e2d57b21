/**
 * The STOMP seam. Relay, producer and consumer depend on these interfaces, not on sockets.
 * Implementation: `connect.ts` (one connection) and `reconnect.ts` (backoff loop over `connect`).
 */
import type { ResolvedBroker } from '../config/resolve.js';
import type { BrokerFlavor } from '../config/types.js';
import type { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** A decoded frame. Header names/values are unescaped; the first of a repeated header wins. */
export interface Frame {
  command: string;
  headers: Record<string, string>;
  /** Raw body bytes (binary-safe). */
  body: Buffer;
}

/** A frame over the parser's limits (limits.ts): skipped up to its end, reported instead of decoded. */
export interface DiscardedFrame {
  command: string;
  /**
   * The headers read before the first limit was broken, plus, after it, those named in
   * `KEPT_WHEN_DISCARDED` whose own line is within `maxHeaderLine`. The first of a repeated header wins.
   */
  headers: Record<string, string>;
  /** `E_FRAME_TOO_LARGE`; the message names each limit broken, the frame's figure and by how much. */
  reason: OutboxError;
}

/** A MESSAGE delivered to a subscription. */
export interface StompMessage extends Frame {
  command: 'MESSAGE';
  /** The subscription id it came on. */
  subscription: string;
  /** The value to ACK/NACK it by (STOMP 1.2 `ack` header). */
  ackId: string;
  /**
   * Set (`E_FRAME_TOO_LARGE`, naming the limit and by how much) when the frame was over the parser's limits
   * (16 MiB, 1000 headers, 64 KiB per header line): it was skipped unread, so `body` is empty and `headers` holds
   * what was read within the limits, which includes `ack`, `message-id`, `subscription`, `destination`,
   * `cap-msg-id` and `dop-msg-id` whenever their own lines are within the line limit. Set too (`E_PROTOCOL`) for a
   * MESSAGE whose body does not end where its `content-length` says: delivered with its headers just before the
   * connection closes. It cannot be handled; NACK it (by `ackId`, in the callback itself) so that the broker
   * dead-letters it instead of redelivering it on every connection.
   *
   * @example
   * session.subscribe('/queue/a', { ack: 'client-individual' }, (m) => {
   *   if (m.discarded) return session.nack(m, { requeue: 'false' });
   *   // … handle m.body
   * });
   */
  discarded?: OutboxError;
}

export interface ConnectOptions {
  broker: ResolvedBroker;
  logger?: Logger;
  /** Aborting closes the connection (or the connect attempt). */
  signal?: AbortSignal;
  /** Max SENDs awaiting a RECEIPT at once; `send` waits for room beyond it. Default 500. */
  window?: number;
}

export interface SendOptions {
  /** Extra headers (destination, content-length and receipt are set by the client). */
  headers?: Record<string, string>;
  /** Default true: resolve on the broker's RECEIPT. false: resolve once written. */
  receipt?: boolean;
}

export interface Subscription {
  readonly id: string;
  readonly destination: string;
  /** Resolves when the broker confirmed the SUBSCRIBE (its RECEIPT); rejects if the connection fails first. */
  readonly ready: Promise<void>;
  /** UNSUBSCRIBE (with a receipt); messages stop arriving. */
  unsubscribe(): Promise<void>;
}

/**
 * One live STOMP 1.2 connection. Contract:
 * - `send` resolves when the broker's RECEIPT arrives (a publisher confirm on RabbitMQ), rejects with
 *   an OutboxError on ERROR (`E_BROKER_ERROR`), close (`E_CONNECTION_CLOSED`), heart-beat loss or
 *   receipt timeout. Many sends may be pending (pipelined up to `window`); each has its own promise.
 * - On any ERROR frame or socket close, every pending receipt fails and `closed` resolves with the reason.
 * - Malformed input from the peer closes the connection with `E_PROTOCOL`; it never throws out of a socket
 *   handler. A frame over the size limits closes it with `E_FRAME_TOO_LARGE`, except a MESSAGE: that is delivered
 *   with `discarded` set and an empty body, for the subscriber to NACK. A MESSAGE whose `content-length` lied is
 *   delivered the same way (`E_PROTOCOL`) before the connection closes; what the subscriber writes in its callback
 *   goes out before the close (a FIN, not a reset).
 */
export interface StompSession {
  /** The CONNECTED frame's headers (server, version, heart-beat, session). */
  readonly server: Record<string, string>;
  /** The broker, from CONNECTED's `server` header unless `broker.flavor` says (src/transport/brokers.ts). */
  readonly flavor: BrokerFlavor;
  /** host:port it is connected to. */
  readonly address: string;
  send(destination: string, body: string | Buffer, options?: SendOptions): Promise<void>;
  subscribe(destination: string, headers: Record<string, string>, onMessage: (message: StompMessage) => void, id?: string): Subscription;
  ack(message: StompMessage): void;
  nack(message: StompMessage, headers?: Record<string, string>): void;
  /**
   * Graceful: waits for pending receipts, then DISCONNECT with a receipt, then closes; bounded by
   * `timeoutSeconds` (default `broker.receiptTimeout`). Idempotent: later calls return the same promise.
   */
  disconnect(timeoutSeconds?: number): Promise<void>;
  /** Abrupt: destroys the socket; pending work fails with `reason`. */
  destroy(reason?: OutboxError): void;
  /** Resolves once, when the connection has ended: undefined after a clean disconnect, else the error. */
  readonly closed: Promise<OutboxError | undefined>;
  /** SENDs awaiting their RECEIPT now. */
  readonly pending: number;
}

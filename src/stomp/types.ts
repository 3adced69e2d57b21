/**
 * The STOMP seam. Relay, producer and consumer depend on these interfaces, not on sockets.
 * Implementation: `connect.ts` (one connection) and `reconnect.ts` (backoff loop over `connect`).
 */
import type { ResolvedBroker } from '../config/resolve.js';
import type { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** A decoded frame. Header names/values are unescaped; the first of a repeated header wins. */
export interface Frame {
  command: string;
  headers: Record<string, string>;
  /** Raw body bytes (binary-safe). */
  body: Buffer;
}

/** A MESSAGE delivered to a subscription. */
export interface StompMessage extends Frame {
  command: 'MESSAGE';
  /** The subscription id it came on. */
  subscription: string;
  /** The value to ACK/NACK it by (STOMP 1.2 `ack` header). */
  ackId: string;
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
 * - Malformed input from the peer closes the connection with `E_PROTOCOL`/`E_FRAME_TOO_LARGE`; it never throws
 *   out of a socket handler.
 */
export interface StompSession {
  /** The CONNECTED frame's headers (server, version, heart-beat, session). */
  readonly server: Record<string, string>;
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

/**
 * The transport seam. The relay depends on `Publisher` — send with a confirmation, learn when the
 * connection ended, close it — and on a `Connector` that opens one; never on sockets or on STOMP itself.
 * A STOMP session is a Publisher as it is (src/stomp/types.ts); src/transport/memory.ts is an in-process
 * one. Every implementation passes the same conformance suite (test/transport/conformance.ts).
 */
import type { BrokerFlavor } from '../config/types.js';
import type { OutboxError } from '../errors.js';

export interface Publisher {
  /** Where it is connected (host:port, or a name), for logs. */
  readonly address: string;
  /** Which broker it is (src/transport/brokers.ts), when the transport knows; else taken for RabbitMQ. */
  readonly flavor?: BrokerFlavor;
  /**
   * Sends one message and resolves when the broker confirmed it (on RabbitMQ a RECEIPT is a publisher
   * confirm). Rejects with an OutboxError when it was not confirmed: the broker refused it
   * (`E_BROKER_ERROR`), the connection ended (`E_CONNECTION_CLOSED`, `E_HEARTBEAT_TIMEOUT`), no
   * confirmation came in time (`E_RECEIPT_TIMEOUT`), or it cannot be encoded (`E_INVALID_FRAME`).
   */
  send(destination: string, body: string | Buffer, options?: { headers?: Record<string, string> }): Promise<void>;
  /** Resolves once, when the connection has ended: undefined after a clean close, else the reason. */
  readonly closed: Promise<OutboxError | undefined>;
  /** Waits (bounded by `timeoutSeconds`) for pending confirmations, then closes. Idempotent. */
  disconnect(timeoutSeconds?: number): Promise<void>;
  /** Closes now; pending sends fail with `reason`. */
  destroy(reason?: OutboxError): void;
}

/**
 * Opens one live connection, retrying on its own as the transport sees fit, until `signal` aborts (then it
 * rejects with `E_ABORTED`). Rejects at once with `E_CONFIG` for settings that cannot work.
 */
export type Connector<P extends Publisher = Publisher> = (signal: AbortSignal) => Promise<P>;

/**
 * The one error type of drizzle-outbox. Branch on `code`, never on `message`.
 * The codes are listed in the README ("Error codes"); messages never contain secrets.
 *
 * @example
 * try { await relay.run(signal) } catch (e) { if (e instanceof OutboxError && e.code === 'E_CONFIG') … }
 */
export type OutboxErrorCode =
  /** The configuration is invalid; the message names the model and the key. */
  | 'E_CONFIG'
  /** The config file or a handler module could not be found or loaded. */
  | 'E_LOAD'
  /** A value cannot be represented as JSON in a message body. */
  | 'E_NOT_JSON'
  /** A message header is not a string, contains NUL, or has a name the library or STOMP sets itself. */
  | 'E_INVALID_HEADER'
  /** `publish()` was given a destination or version the broker would refuse (see the destination rules). */
  | 'E_INVALID_DESTINATION'
  /** An outbox helper or `publish()` was given the root database instead of a transaction. */
  | 'E_NOT_TRANSACTION'
  /** The database could not be reached or a statement failed. */
  | 'E_DATABASE'
  /** The TCP/TLS connection to the broker failed or was refused. */
  | 'E_CONNECT'
  /** The broker did not answer CONNECT in time. */
  | 'E_CONNECT_TIMEOUT'
  /** The broker sent an ERROR frame (its `message` header is quoted). */
  | 'E_BROKER_ERROR'
  /** The connection to the broker closed while work was pending. */
  | 'E_CONNECTION_CLOSED'
  /** The peer went silent for longer than the negotiated heart-beat allows. */
  | 'E_HEARTBEAT_TIMEOUT'
  /** No RECEIPT arrived within the receipt timeout. */
  | 'E_RECEIPT_TIMEOUT'
  /** The peer sent bytes that are not valid STOMP 1.2. */
  | 'E_PROTOCOL'
  /** A frame exceeded the size, header-count or header-length limit. */
  | 'E_FRAME_TOO_LARGE'
  /** A frame to be sent is invalid (e.g. NUL in a header). */
  | 'E_INVALID_FRAME'
  /** The message id was already recorded in the inbox: the handler's transaction must roll back. */
  | 'E_DUPLICATE'
  /**
   * A handler did not finish within `consumer.handlerTimeout`; from a consumer's `run()`: every handler slot
   * has been held by such a hung handler for `handlerTimeout` again, and the consumer gave up.
   */
  | 'E_HANDLER_TIMEOUT'
  /** `payload.save()` after the message was already acked or nacked (say, after a handler timeout). */
  | 'E_SETTLED'
  /** The operation was aborted (shutdown). */
  | 'E_ABORTED'
  /** Command-line usage error. */
  | 'E_USAGE';

export class OutboxError extends Error {
  override readonly name = 'OutboxError';
  readonly code: OutboxErrorCode;

  constructor(code: OutboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export const isOutboxError = (e: unknown, code?: OutboxErrorCode): e is OutboxError =>
  e instanceof OutboxError && (code === undefined || e.code === code);

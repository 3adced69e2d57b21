/**
 * `createProducer(config)`: sends straight to the broker, without the outbox (django-outbox-pattern's
 * `factory_producer`). Same wire format as the relay — body as JSON, `persistent:true`, the `dop-*`
 * headers with a fresh `dop-msg-id` — and `send` resolves only on the broker's RECEIPT.
 *
 * Use it when there is no database transaction to be atomic with; otherwise write to the outbox
 * (`publish(tx, …)` or a generated helper), which survives a broker outage and a crash.
 */
import { randomUUID } from 'node:crypto';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { OutboxConfig } from '../config/types.js';
import { OutboxError } from '../errors.js';
import { defaultLogger, type Logger } from '../log/logger.js';
import { toJsonBody } from '../wire/body.js';
import { correlationIdOrNew } from '../publish/correlation.js';
import { destinationProblem } from '../wire/destination.js';
import { outboxHeaders } from '../publish/headers.js';
import { sendBody } from '../wire/body.js';
import { sendHeaders } from '../wire/headers.js';
import { connect } from '../stomp/connect.js';
import type { StompSession } from '../stomp/types.js';

export interface Producer {
  /**
   * Sends one message and resolves with its `dop-msg-id` once the broker confirmed it (RECEIPT).
   * Rejects with an `OutboxError`: `E_INVALID_DESTINATION`, `E_NOT_JSON`, `E_INVALID_HEADER` before
   * anything is sent; `E_CONNECT…` when the broker cannot be reached (no retry: the caller decides);
   * `E_BROKER_ERROR`, `E_CONNECTION_CLOSED`, `E_RECEIPT_TIMEOUT` when the send was not confirmed —
   * then it may or may not have arrived. The connection is opened on the first send and reopened after
   * a loss.
   */
  send(destination: string, body: unknown, headers?: Record<string, string | undefined>): Promise<string>;
  /** DISCONNECT after pending receipts (bounded by `broker.receiptTimeout`). Idempotent. */
  close(): Promise<void>;
}

/**
 * @example
 * const producer = createProducer(config);
 * await producer.send('/topic/audit', { user: 42, action: 'login' }, { 'x-source': 'web' });
 * await producer.close();
 */
export function createProducer(config: OutboxConfig | ResolvedConfig, options: { logger?: Logger } = {}): Producer {
  const resolved = resolveConfig(config as OutboxConfig);
  const logger = options.logger ?? defaultLogger('producer');
  let session: Promise<StompSession> | undefined;
  let closing: Promise<void> | undefined;

  function connected(): Promise<StompSession> {
    if (!session) {
      const opening = connect({ broker: resolved.broker, logger, window: resolved.relay.window });
      session = opening;
      opening.then(
        (s) => void s.closed.then(() => {
          if (session === opening) session = undefined;
        }),
        () => {
          if (session === opening) session = undefined;
        },
      );
    }
    return session;
  }

  return {
    async send(destination, body, headers) {
      if (closing) throw new OutboxError('E_ABORTED', 'the producer is closed');
      const problem = destinationProblem(destination);
      if (problem) throw new OutboxError('E_INVALID_DESTINATION', `producer.send(): destination ${problem}`);
      const id = randomUUID();
      const json = toJsonBody(body, destination);
      const stored = outboxHeaders({ id, destination, body: json }, new Date().toISOString(), correlationIdOrNew(), resolved.headers, headers);
      const s = await connected();
      await s.send(destination, sendBody(json), { headers: sendHeaders(stored) });
      return id;
    },
    close() {
      return (closing ??= (async () => {
        const s = await session?.catch(() => undefined);
        await s?.disconnect();
      })());
    },
  };
}

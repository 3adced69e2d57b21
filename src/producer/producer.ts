/**
 * `createProducer(config)`: sends straight to the broker, without the outbox (django-outbox-pattern's
 * `factory_producer`). Same wire format as the relay — body as JSON, `persistent:true`, the `dop-*`
 * headers with a fresh `dop-msg-id` — and `send` resolves only on the broker's RECEIPT.
 *
 * Use it when there is no database transaction to be atomic with; otherwise write to the outbox
 * (`publish(tx, …)` or a generated helper), which survives a broker outage and a crash.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolve.js';
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
 * Takes a resolved config, as `createRelay` and `createConsumer` do: resolving (and so validating, and
 * reading the environment) happens once, where the application starts, not again in every component.
 *
 * @example
 * const producer = createProducer(resolveConfig(config));
 * await producer.send('/topic/audit', { user: 42, action: 'login' }, { 'x-source': 'web' });
 * await producer.close();
 */
export function createProducer(config: ResolvedConfig, options: { logger?: Logger } = {}): Producer {
  assertResolved(config);
  const logger = options.logger ?? defaultLogger('producer');
  let session: Promise<StompSession> | undefined;
  let closing: Promise<void> | undefined;

  function connected(): Promise<StompSession> {
    if (!session) {
      const opening = connect({ broker: config.broker, logger, window: config.relay.window });
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
      const stored = outboxHeaders({ id, destination, body: json }, new Date().toISOString(), correlationIdOrNew(), config.headers, headers);
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

/**
 * The type already refuses a plain `OutboxConfig`; this is for JavaScript callers, who would otherwise meet
 * the mistake as an undefined host or timeout at the first send. It looks at what the producer reads.
 */
function assertResolved(config: unknown): asserts config is ResolvedConfig {
  const { broker, relay } = (config ?? {}) as Partial<ResolvedConfig>;
  const resolved =
    Array.isArray(broker?.hosts) && broker.hosts.length > 0 &&
    Array.isArray(broker.heartbeat) &&
    (broker.tls === false || (typeof broker.tls === 'object' && broker.tls !== null)) &&
    [broker.vhost, broker.login, broker.passcode].every((v) => typeof v === 'string') &&
    [broker.maxBackoff, broker.connectTimeout, broker.receiptTimeout, relay?.window].every((v) => typeof v === 'number');
  if (!resolved) throw new OutboxError('E_CONFIG', 'config: createProducer takes a resolved config: pass resolveConfig(config)');
}

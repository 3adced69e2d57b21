/**
 * `connect()`: one STOMP 1.2 session to the first broker host that accepts us, trying `broker.hosts` in order.
 */
import { OutboxError } from '../errors.js';
import { defaultLogger, type Logger } from '../log/logger.js';
import type { BrokerHost } from '../config/types.js';
import type { HeartbeatPeriods } from './heartbeat.js';
import { openSession } from './session.js';
import { dial } from './transport.js';
import type { ConnectOptions, StompSession } from './types.js';

/** The session `connect` resolves to: the contract plus the negotiated heart-beat periods. */
export type ConnectedSession = StompSession & { readonly heartbeat: HeartbeatPeriods };

const DEFAULT_WINDOW = 500;

/**
 * Connects (TCP or TLS), sends CONNECT (`accept-version:1.2`, `host` = vhost, login, passcode, heart-beat)
 * and resolves on CONNECTED. Each host gets `broker.connectTimeout` seconds; on failure the next host is
 * tried, and the last failure is thrown: `E_CONNECT` (refused, TLS verification…), `E_CONNECT_TIMEOUT`,
 * `E_BROKER_ERROR` (an ERROR instead of CONNECTED, e.g. bad credentials — the broker's message, never the
 * passcode), `E_PROTOCOL`, or `E_ABORTED` when `signal` aborts.
 *
 * Aborting `signal` after connecting disconnects gracefully (pending receipts first, bounded).
 *
 * @example
 * const session = await connect({ broker: resolveConfig(config).broker });
 * await session.send('/queue/orders', JSON.stringify(order), { headers: { persistent: 'true' } });
 * await session.disconnect();
 */
export async function connect(options: ConnectOptions): Promise<ConnectedSession> {
  const logger = options.logger ?? defaultLogger('stomp');
  const { broker, signal } = options;
  let last: OutboxError | undefined;
  for (const host of broker.hosts) {
    if (signal?.aborted) throw aborted();
    try {
      return await connectTo(host, options, logger);
    } catch (error) {
      last = error instanceof OutboxError ? error : new OutboxError('E_CONNECT', String(error), { cause: error });
      if (last.code === 'E_ABORTED') throw last;
      if (broker.hosts.length > 1) logger.debug(`${host.host}:${host.port} failed (${last.code}): trying the next host`);
    }
  }
  throw last!;
}

const aborted = (): OutboxError => new OutboxError('E_ABORTED', 'connecting to the broker was aborted');

async function connectTo(host: BrokerHost, options: ConnectOptions, logger: Logger): Promise<ConnectedSession> {
  const { broker, signal } = options;
  const address = `${host.host}:${host.port}`;
  const { socket, readyEvent } = dial(host, broker.tls);
  const opening = openSession(socket, readyEvent, { broker, logger, address, window: options.window ?? DEFAULT_WINDOW });

  const timer = setTimeout(() => {
    opening.abort(new OutboxError('E_CONNECT_TIMEOUT', `${address} did not answer CONNECT within ${broker.connectTimeout} s`));
  }, broker.connectTimeout * 1000);
  const onAbortConnecting = (): void => opening.abort(aborted());
  signal?.addEventListener('abort', onAbortConnecting, { once: true });
  let session: ConnectedSession;
  try {
    session = await opening.ready;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbortConnecting);
  }

  if (signal) {
    // From now on the signal means "shut down": drain what is pending, then DISCONNECT.
    const onAbort = (): void => void session.disconnect();
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      void session.closed.then(() => signal.removeEventListener('abort', onAbort));
    }
  }
  return session;
}

/**
 * One STOMP 1.2 connection over an already-dialled socket: the CONNECT handshake, then the session's verbs.
 * Every way it can end (ERROR frame, socket close or error, malformed input, heart-beat loss, destroy,
 * disconnect) goes through `close(reason)`, which fails all pending work once with that reason.
 * Callers use `connect()` (connect.ts), which adds failover, the connect timeout and the abort signal.
 */
import type { Socket } from 'node:net';
import type { ResolvedBroker } from '../config/resolve.js';
import { OutboxError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { recogniseBroker } from '../transport/brokers.js';
import { HEARTBEAT } from './octets.js';
import { createParser } from './parser.js';
import { createReceipts } from './receipts.js';
import { encodeFrame } from './serializer.js';
import { negotiateHeartbeat, startHeartbeat, type HeartbeatMonitor, type HeartbeatPeriods } from './heartbeat.js';
import { createSubscriptions } from './subscriptions.js';
import { createWindow } from './window.js';
import { createWriter } from './writer.js';
import type { DiscardedFrame, Frame, SendOptions, StompSession } from './types.js';
import { monotonicMs } from '../util/clock.js';
import { TIMED_OUT, within } from '../util/within.js';

export interface SessionContext {
  broker: ResolvedBroker;
  logger: Logger;
  window: number;
  /** host:port, for messages. */
  address: string;
}

/** What `openSession` gives connect.ts: the handshake's outcome and a way to abort it. */
export interface Opening {
  /** Resolves on CONNECTED; rejects on ERROR (E_BROKER_ERROR), close, or `abort`. */
  ready: Promise<StompSession & { readonly heartbeat: HeartbeatPeriods }>;
  abort(reason: OutboxError): void;
}

const noop = (): void => {};

/** Starts the session on `socket`; CONNECT is written once `readyEvent` fires. */
export function openSession(socket: Socket, readyEvent: 'connect' | 'secureConnect', ctx: SessionContext): Opening {
  const { broker, logger, address } = ctx;
  // failing: the broker sent an ERROR; we read what else it says (more ERRORs, late RECEIPTs) until it closes.
  type Phase = 'connecting' | 'open' | 'disconnecting' | 'failing' | 'closed';
  let phase: Phase = 'connecting';
  let server: Record<string, string> = {};
  let periods: HeartbeatPeriods = { send: 0, receive: 0 };
  let heartbeat: HeartbeatMonitor | undefined;
  let closeReason: OutboxError | undefined;
  let disconnecting: Promise<void> | undefined;
  // Every ERROR frame's text, in arrival order, until the connection closes.
  const brokerErrors: string[] = [];
  let failingTimer: NodeJS.Timeout | undefined;

  const receipts = createReceipts(broker.receiptTimeout * 1000, (error) => {
    logger.warn(`${address}: ${error.message}; closing the connection (the broker confirms in order: nothing sent after it would be confirmed either)`);
    close(error);
  });
  const window = createWindow<PendingSend>(ctx.window, (p) => sendWithSlot(p), (p, error) => p.reject(error));
  const writer = createWriter(socket, () => {
    heartbeat?.wrote();
    receipts.written();
  });
  // ACK/NACK still go out while disconnecting: handlers finishing during the drain settle their messages.
  const subscriptions = createSubscriptions({
    logger,
    receipts,
    writeFrame: (c, h) => writeFrame(c, h),
    isOpen: () => phase === 'open' || phase === 'disconnecting',
  });

  let resolveClosed!: (reason: OutboxError | undefined) => void;
  const closed = new Promise<OutboxError | undefined>((r) => (resolveClosed = r));
  let resolveReady!: (s: StompSession & { heartbeat: HeartbeatPeriods }) => void;
  let rejectReady!: (e: OutboxError) => void;
  const ready = new Promise<StompSession & { heartbeat: HeartbeatPeriods }>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });

  const parser = createParser({
    onFrame,
    onDiscarded,
    onError(error, frame) {
      // A MESSAGE whose content-length lied: nothing after it can be trusted, but it can still be settled by
      // its ack id before the connection ends; else the broker would deliver it again on the next one, and
      // the one after, with every message behind it stuck. The subscriber settles it at once (it is flagged),
      // and the connection ends after what was written is on its way.
      logger.error(`malformed input from ${address}: ${error.message}`);
      if (frame?.command === 'MESSAGE' && phase === 'open') {
        subscriptions.deliver({ command: 'MESSAGE', headers: frame.headers, body: Buffer.alloc(0) }, error);
        return close(error, true);
      }
      close(error);
    },
  });

  const onData = (chunk: Buffer): void => {
    heartbeat?.read();
    parser.push(chunk);
    // RECEIPTs in this chunk handed their window slots to queued sends: write those now, in one go.
    writer.flush();
  };
  const onSocketError = (error: Error): void => {
    if (brokerErrors.length > 0) return close(combinedBrokerError());
    const code = phase === 'connecting' ? 'E_CONNECT' : 'E_CONNECTION_CLOSED';
    close(new OutboxError(code, `${address}: ${error.message}`, { cause: error }));
  };
  const onSocketClose = (): void => {
    if (brokerErrors.length > 0) return close(combinedBrokerError());
    const code = phase === 'connecting' ? 'E_CONNECT' : 'E_CONNECTION_CLOSED';
    close(new OutboxError(code, `the connection to ${address} was closed by the peer`));
  };
  const onReady = (): void => {
    socket.setNoDelay(true);
    const connectHeaders: Record<string, string> = {
      'accept-version': '1.2',
      host: broker.vhost,
      login: broker.login,
      passcode: broker.passcode,
      'heart-beat': `${broker.heartbeat[0]},${broker.heartbeat[1]}`,
    };
    try {
      writeFrame('CONNECT', connectHeaders, undefined, { ...connectHeaders, passcode: '***' });
    } catch (error) {
      // A login, passcode or vhost with a line break cannot be sent (CONNECT headers are not escaped).
      close(error instanceof OutboxError ? new OutboxError('E_CONFIG', `broker settings cannot be sent in CONNECT: ${error.message}`) : new OutboxError('E_CONFIG', String(error)));
    }
  };

  socket.on('data', onData);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  socket.once(readyEvent, onReady);

  function observe(direction: 'in' | 'out', command: string, headers: Record<string, string>): void {
    if (!broker.onFrame) return;
    try {
      broker.onFrame(direction, command, headers);
    } catch (error) {
      logger.warn(`broker.onFrame threw: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** Serializes and queues one frame; throws E_INVALID_FRAME for what cannot be encoded. */
  function writeFrame(command: string, headers: Record<string, string>, body?: string | Buffer, shown = headers): void {
    const frame = encodeFrame(command, headers, body);
    observe('out', command, shown);
    writer.write(frame);
  }

  function onFrame(frame: Frame): void {
    observe('in', frame.command, frame.headers);
    switch (frame.command) {
      case 'RECEIPT':
        receipts.settle(frame.headers['receipt-id'] ?? '');
        return;
      case 'MESSAGE':
        if (phase === 'connecting') return protocolError('MESSAGE before CONNECTED');
        // A dying connection cannot settle it: the broker redelivers it on the next.
        if (phase === 'failing') return;
        return subscriptions.deliver(frame);
      case 'ERROR':
        return brokerError(frame);
      case 'CONNECTED':
        if (phase !== 'connecting') return protocolError('a second CONNECTED');
        return connected(frame);
      default:
        return protocolError(`unexpected ${frame.command} frame`);
    }
  }

  /**
   * A frame over the parser's limits. A MESSAGE still goes to its subscription, flagged and without its body, so
   * the consumer can settle it by its ack id: closing would only have the broker redeliver it, for ever, with the
   * messages behind it stuck. Any other frame closes the connection.
   */
  function onDiscarded(frame: DiscardedFrame): void {
    observe('in', frame.command, frame.headers);
    if (frame.command === 'MESSAGE' && phase !== 'connecting') {
      // A dying connection cannot settle it: the broker redelivers it on the next.
      if (phase === 'failing') return;
      logger.warn(`${address}: ${frame.reason.message}; passed on without its body, to be settled by its ack id`);
      return subscriptions.deliver({ command: 'MESSAGE', headers: frame.headers, body: Buffer.alloc(0) }, frame.reason);
    }
    logger.error(`malformed input from ${address}: ${frame.reason.message}`);
    close(frame.reason);
  }

  function protocolError(message: string): void {
    logger.error(`protocol error from ${address}: ${message}`);
    close(new OutboxError('E_PROTOCOL', `${address}: ${message}`));
  }

  function connected(frame: Frame): void {
    if (frame.headers.version !== '1.2') {
      return protocolError(`the broker does not speak STOMP 1.2 (version ${frame.headers.version ?? 'missing'})`);
    }
    server = frame.headers;
    periods = negotiateHeartbeat(broker.heartbeat, frame.headers['heart-beat']);
    heartbeat = startHeartbeat(
      periods,
      // Bytes already waiting to go out are sign of life enough; piling heart-beats up behind them is not.
      () => writer.busy || writer.write(HEARTBEAT),
      (quiet) => {
        logger.warn(`${address} sent nothing for ${quiet} ms (heart-beat ${periods.receive} ms): closing`);
        close(new OutboxError('E_HEARTBEAT_TIMEOUT', `${address} sent nothing for ${quiet} ms (heart-beat ${periods.receive} ms)`));
      },
    );
    phase = 'open';
    logger.debug(`connected to ${address} (${server.server ?? 'unknown server'}, heart-beat send ${periods.send} ms / receive ${periods.receive} ms)`);
    resolveReady(session);
  }

  /**
   * An ERROR ends the connection, but not at once: answering a pipelined batch, RabbitMQ may send a generic
   * "Processing error" first and the ERROR that names the refused queue or exchange after it, then close.
   * So every ERROR is kept until the socket closes (or ERROR_GRACE_MS passes, for a broker that leaves it
   * open), and the connection ends with all of them; RECEIPTs that still arrive meanwhile settle their sends.
   */
  function brokerError(frame: Frame): void {
    const summary = frame.headers.message ?? 'no message';
    const detail = frame.body.length ? frame.body.toString('utf8', 0, Math.min(frame.body.length, 300)).trim() : '';
    const text = `${summary}${detail ? ` — ${detail.replace(/\s+/g, ' ')}` : ''}`;
    if (phase === 'connecting') return close(new OutboxError('E_BROKER_ERROR', `${address} sent ERROR: ${text}`));
    if (!brokerErrors.includes(text)) {
      brokerErrors.push(text);
      // Debug only: the connection ends with every ERROR in its reason, and whoever held it (relay, consumer,
      // producer) says what failed once, in its own words; a line per frame here repeated it, generic ones too.
      logger.debug(`${address} sent ERROR: ${text}`);
    }
    if (phase === 'failing') return;
    phase = 'failing';
    heartbeat?.stop();
    window.failAll(combinedBrokerError());
    failingTimer = setTimeout(() => close(combinedBrokerError()), ERROR_GRACE_MS);
  }

  function combinedBrokerError(): OutboxError {
    return new OutboxError('E_BROKER_ERROR', `${address} sent ERROR: ${brokerErrors.join(' · then ERROR: ')}`);
  }

  /** Ends the session. `flush`: what was written goes out first, the socket half-closed rather than reset. */
  function close(reason: OutboxError | undefined, flush = false): void {
    if (phase === 'closed') return;
    const wasConnecting = phase === 'connecting';
    phase = 'closed';
    closeReason = reason;
    clearTimeout(failingTimer);
    heartbeat?.stop();
    const failure = reason ?? new OutboxError('E_CONNECTION_CLOSED', `the connection to ${address} was closed`);
    if (flush) writer.flush();
    writer.close(failure);
    socket.off('data', onData);
    socket.off('close', onSocketClose);
    socket.off(readyEvent, onReady);
    socket.off('error', onSocketError);
    // An 'error' may still be emitted while the socket dies; it must not become an uncaught exception.
    socket.on('error', noop);
    if (flush) {
      // A reset could overtake the bytes just written; a FIN comes after them.
      socket.end();
      setTimeout(() => socket.destroy(), FLUSH_GRACE_MS).unref();
    } else socket.destroy();
    window.failAll(failure);
    receipts.failAll(failure);
    subscriptions.clear();
    if (wasConnecting) rejectReady(failure);
    // ERROR frames, malformed input and heart-beat loss were logged where they were noticed.
    else if (reason?.code === 'E_CONNECTION_CLOSED' && !disconnecting) logger.warn(`connection to ${address} lost: ${reason.message}`);
    resolveClosed(reason);
  }

  const closedError = (): OutboxError => {
    if (closeReason) return closeReason;
    if (phase === 'failing') return combinedBrokerError();
    return new OutboxError('E_CONNECTION_CLOSED', phase === 'disconnecting' ? `the connection to ${address} is closing` : `the connection to ${address} is closed`);
  };

  /** Writes one SEND holding a window slot; its receipt settles the caller's promise. */
  function sendWithSlot(p: PendingSend): void {
    if (phase === 'closed') {
      window.release();
      p.reject(closedError());
      return;
    }
    let frame: string | Buffer;
    const id = receipts.register('SEND', p.destination, p.resolve, p.reject, window.release);
    const headers = sendFrameHeaders(p.destination, p.headers, id);
    try {
      frame = encodeFrame('SEND', headers, p.body);
    } catch (error) {
      receipts.cancel(id); // frees the slot; the caller gets the encoding error instead
      p.reject(error);
      return;
    }
    observe('out', 'SEND', headers);
    writer.write(frame);
  }

  const session: StompSession & { readonly heartbeat: HeartbeatPeriods } = {
    get server() {
      return server;
    },
    get flavor() {
      return recogniseBroker(server.server, broker.flavor);
    },
    address,
    get heartbeat() {
      return periods;
    },
    get closed() {
      return closed;
    },
    get pending() {
      return window.used;
    },

    send(destination, body, options?: SendOptions) {
      if (phase !== 'open') return Promise.reject(closedError());
      if (options?.receipt === false) {
        try {
          writeFrame('SEND', sendFrameHeaders(destination, options.headers, undefined), body);
        } catch (error) {
          return Promise.reject(error);
        }
        return writer.written();
      }
      return new Promise<void>((resolve, reject) => {
        const p: PendingSend = { destination, body, headers: options?.headers, resolve, reject };
        if (window.tryAcquire()) sendWithSlot(p);
        else window.enqueue(p);
      });
    },

    subscribe(destination, headers, onMessage, id) {
      if (phase !== 'open') throw closedError();
      return subscriptions.subscribe(destination, headers, onMessage, id);
    },

    ack(message) {
      subscriptions.acknowledge('ACK', message, undefined);
    },
    nack(message, headers) {
      subscriptions.acknowledge('NACK', message, headers);
    },

    disconnect(timeoutSeconds = broker.receiptTimeout) {
      disconnecting ??= phase === 'closed' ? Promise.resolve() : gracefulClose(timeoutSeconds);
      return disconnecting;
    },

    destroy(reason) {
      close(reason ?? new OutboxError('E_CONNECTION_CLOSED', `the connection to ${address} was destroyed`));
    },
  };

  /** Waits (bounded) for pending receipts, then DISCONNECT with a receipt, then closes. */
  async function gracefulClose(timeoutSeconds: number): Promise<void> {
    if (phase === 'connecting') {
      close(new OutboxError('E_ABORTED', `connecting to ${address} was abandoned`));
      return;
    }
    phase = 'disconnecting';
    const deadline = monotonicMs() + timeoutSeconds * 1000;
    const left = () => Math.max(0, deadline - monotonicMs());
    // Sends already queued for the window still go out: they were accepted before disconnect().
    if ((await within(window.idle(), { ms: left() })) === TIMED_OUT) {
      close(new OutboxError('E_RECEIPT_TIMEOUT', `disconnect gave up after ${timeoutSeconds} s with ${window.used} receipts pending`));
      return;
    }
    if ((phase as Phase) === 'closed') return;
    const r = receipts.expect('DISCONNECT');
    writeFrame('DISCONNECT', { receipt: r.id });
    const outcome = await within(r.done.then(() => 'ok' as const, () => 'failed' as const), { ms: left() });
    if (outcome !== 'ok') logger.debug(`no RECEIPT for DISCONNECT from ${address} (${outcome === TIMED_OUT ? 'timeout' : outcome})`);
    close(undefined);
  }

  return { ready, abort: (reason) => close(reason) };
}

/** How long to keep reading after an ERROR for the ERRORs that follow it, when the broker does not close. */
const ERROR_GRACE_MS = 500;

/** How long a socket ended after a last write may linger before it is destroyed (a peer that never closes). */
const FLUSH_GRACE_MS = 2_000;

/** A SEND waiting for (or holding) a window slot. */
interface PendingSend {
  destination: string;
  body: string | Buffer;
  headers: Record<string, string> | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** SEND headers: destination first, the caller's headers, then our receipt (a caller's receipt would confuse the registry). */
function sendFrameHeaders(destination: string, extra: Record<string, string> | undefined, receipt: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { destination };
  if (extra) for (const name in extra) if (name !== 'destination' && name !== 'receipt') headers[name] = extra[name]!;
  if (receipt !== undefined) headers.receipt = receipt;
  return headers;
}

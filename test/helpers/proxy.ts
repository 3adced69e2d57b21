/**
 * A TCP proxy between a client and a real service (PostgreSQL, RabbitMQ's STOMP port) that fails on
 * demand, for faults the services will not produce themselves or not for one client alone: an outage
 * (`cut`), a peer that stops reading (`stall`), latency (`delay`), a reset (`reset`), a connection that
 * ends mid-frame (`cutAfterBytes`), a reply that arrives in two packets (`split`). Socket errors are swallowed: a fault must never crash the test process.
 *
 * @example
 * const proxy = await startProxy({ target: { host: '127.0.0.1', port: 5432 } });
 * const sql = postgres({ host: proxy.host, port: proxy.port, user: 'postgres', database: 'postgres' });
 * proxy.stall();               // the query below hangs
 * const pending = sql`select 1`;
 * await proxy.resume();        // …and completes
 * await proxy.close();
 */
import net from 'node:net';

/** `up`: client → service; `down`: service → client. */
export type Direction = 'up' | 'down';

export interface Proxy {
  /** Where clients connect instead of the service. */
  readonly host: string;
  readonly port: number;
  /** Connections open now. */
  readonly connections: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /**
   * An outage: every open connection ends with a FIN both ways (bytes held back are dropped) and the
   * port is closed, so new connections are refused until `resume()`. Resolves once the port is closed.
   */
  cut(): Promise<void>;
  /**
   * A peer that stops reading: nothing is forwarded either way and the proxy stops reading the sockets,
   * so the client's writes back up in its kernel buffers. New connections are accepted but stalled too.
   */
  stall(): void;
  /** Ends a `stall()` (what was held is forwarded, in order) or a `cut()` (the same port listens again). */
  resume(): Promise<void>;
  /** Holds every chunk `ms` before forwarding it, both ways; 0 turns it off. Order is kept. */
  delay(ms: number): void;
  /**
   * Splits each chunk going `direction` at the byte offset `at(chunk)` returns (undefined: leave it whole)
   * and holds the rest `ms` longer, so the peer reads the two parts apart. `null` turns it off.
   */
  split(direction: Direction, at: ((chunk: Buffer) => number | undefined) | null, ms?: number): void;
  /** Destroys every open connection with an RST, both ways, mid-frame if bytes are flowing. */
  reset(): void;
  /**
   * Forwards exactly `n` more bytes in `direction` (counted over all connections), then `cut()`s.
   * Resolves when the cut happened (or at once if a later call or `close()` disarms it); pair with
   * `resume()` to let the client back in.
   */
  cutAfterBytes(n: number, direction: Direction): Promise<void>;
  /** Stops listening and destroys every connection and timer. Idempotent. */
  close(): Promise<void>;
}

export interface ProxyOptions {
  target: { host: string; port: number };
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** A held chunk and when it may go. */
interface Held {
  chunk: Buffer;
  due: number;
}

/** One direction of one connection: reads `from`, writes `to`. */
interface Pipe {
  direction: Direction;
  from: net.Socket;
  to: net.Socket;
  held: Held[];
  heldBytes: number;
  /** `from` sent its FIN (or is gone): pass it on once `held` is empty. */
  ended: boolean;
  waitingDrain: boolean;
  /** Cut, reset or closed: whatever it held is dropped and it forwards nothing more. */
  dropped: boolean;
  timer?: NodeJS.Timeout;
}

interface Connection {
  client: net.Socket;
  service: net.Socket;
  pipes: [Pipe, Pipe];
}

// Above this much held in one direction the proxy stops reading that side: a delay must not buffer unbounded.
const HOLD_LIMIT = 1024 * 1024;
// After our FIN, how long the peer gets to answer with its own before its socket is destroyed.
const FIN_GRACE_MS = 1_000;

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const { target } = options;
  const listenHost = options.host ?? '127.0.0.1';
  const open = new Set<Connection>();
  const sockets = new Set<net.Socket>();
  const servers = new Set<Promise<void>>();
  let stalled = false;
  let latency = 0;
  let accepted = 0;
  let server: net.Server | undefined;
  let reopening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let tripwire: { direction: Direction; left: number; fire: () => void; disarm: () => void } | undefined;
  let splitter: { direction: Direction; at: (chunk: Buffer) => number | undefined; ms: number } | undefined;

  const flow = (pipe: Pipe): void => {
    if (pipe.dropped) return;
    if (!stalled && !pipe.waitingDrain && pipe.heldBytes < HOLD_LIMIT) pipe.from.resume();
    else pipe.from.pause();
  };

  const drop = (pipe: Pipe): void => {
    pipe.dropped = true;
    clearTimeout(pipe.timer);
    pipe.held = [];
    pipe.heldBytes = 0;
  };

  /** Our FIN, then read (and drop) until the peer's FIN so the close is clean, then destroy. */
  const finishing = new WeakSet<net.Socket>();
  const finish = (socket: net.Socket): void => {
    if (socket.destroyed || finishing.has(socket)) return;
    finishing.add(socket);
    socket.removeAllListeners('data');
    socket.on('data', () => {});
    socket.on('end', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), FIN_GRACE_MS);
    socket.on('close', () => clearTimeout(timer));
    socket.resume();
    socket.end();
  };

  const pump = (pipe: Pipe): void => {
    clearTimeout(pipe.timer);
    pipe.timer = undefined;
    if (pipe.dropped) return;
    if (pipe.to.destroyed) return drop(pipe);
    while (!stalled && !pipe.waitingDrain && pipe.held.length > 0) {
      const head = pipe.held[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        pipe.timer = setTimeout(() => pump(pipe), wait);
        break;
      }
      pipe.held.shift();
      pipe.heldBytes -= head.chunk.length;
      let chunk = head.chunk;
      const wire = tripwire?.direction === pipe.direction ? tripwire : undefined;
      if (wire) {
        chunk = chunk.subarray(0, wire.left);
        wire.left -= chunk.length;
      }
      if (chunk.length > 0 && !pipe.to.write(chunk)) {
        pipe.waitingDrain = true;
        pipe.to.once('drain', () => {
          pipe.waitingDrain = false;
          pump(pipe);
        });
      }
      if (wire && wire.left === 0) {
        tripwire = undefined;
        return wire.fire();
      }
    }
    if (pipe.held.length === 0 && pipe.ended) {
      // The sender is gone altogether (not just half-closed): nothing will come back the other way either.
      if (pipe.from.destroyed) finish(pipe.to);
      else pipe.to.end();
    }
    flow(pipe);
  };

  const createPipe = (direction: Direction, from: net.Socket, to: net.Socket): Pipe => {
    const pipe: Pipe = { direction, from, to, held: [], heldBytes: 0, ended: false, waitingDrain: false, dropped: false };
    from.on('data', (chunk: Buffer) => {
      if (pipe.dropped) return;
      const due = Date.now() + latency;
      const at = splitter?.direction === direction ? splitter.at(chunk) : undefined;
      if (at !== undefined && at > 0 && at < chunk.length) {
        pipe.held.push({ chunk: chunk.subarray(0, at), due }, { chunk: chunk.subarray(at), due: due + splitter!.ms });
      } else {
        pipe.held.push({ chunk, due });
      }
      pipe.heldBytes += chunk.length;
      pump(pipe);
    });
    from.on('end', () => {
      pipe.ended = true;
      pump(pipe);
    });
    return pipe;
  };

  const onClient = (client: net.Socket): void => {
    accepted++;
    const service = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const [up, down] = [createPipe('up', client, service), createPipe('down', service, client)];
    const c: Connection = { client, service, pipes: [up, down] };
    open.add(c);
    for (const [socket, outgoing] of [[client, up], [service, down]] as const) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', (hadError) => {
        sockets.delete(socket);
        if (client.destroyed && service.destroyed) {
          open.delete(c);
          for (const pipe of c.pipes) drop(pipe);
          return;
        }
        const peer = socket === client ? service : client;
        // An error travels on as a reset; a clean close as a FIN once what this side sent is delivered.
        if (hadError) {
          drop(outgoing);
          if (!peer.destroyed) peer.resetAndDestroy();
        } else {
          outgoing.ended = true;
          pump(outgoing);
        }
      });
    }
    for (const pipe of c.pipes) flow(pipe);
  };

  const listen = (port: number): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onClient);
      s.on('error', (error) => (s.listening ? undefined : reject(error)));
      s.listen(port, listenHost, () => resolve(s));
    });

  /** The port closes at once (connections are refused from here on); the promise waits for its sockets too. */
  const stopListening = (): void => {
    const s = server;
    server = undefined;
    if (s) servers.add(new Promise((resolve) => s.close(() => resolve())));
  };

  const cut = async (): Promise<void> => {
    stopListening();
    for (const c of open) {
      for (const pipe of c.pipes) drop(pipe);
      finish(c.client);
      finish(c.service);
    }
  };

  server = await listen(options.port ?? 0);
  const { port } = server.address() as net.AddressInfo;

  return {
    host: listenHost,
    port,
    get connections() {
      return open.size;
    },
    get accepted() {
      return accepted;
    },
    cut,
    stall() {
      stalled = true;
      for (const c of open) for (const pipe of c.pipes) flow(pipe);
    },
    async resume() {
      if (closing) return;
      stalled = false;
      for (const c of open) for (const pipe of c.pipes) pump(pipe);
      // Two resume() calls in a row must not both try to listen on the port.
      if (!server) reopening ??= listen(port).then((s) => void (server = s)).finally(() => (reopening = undefined));
      await reopening;
    },
    delay(ms) {
      latency = Math.max(0, ms);
    },
    split(direction, at, ms = 0) {
      splitter = at ? { direction, at, ms } : undefined;
    },
    reset() {
      for (const c of open) {
        for (const pipe of c.pipes) drop(pipe);
        for (const socket of [c.client, c.service]) if (!socket.destroyed) socket.resetAndDestroy();
      }
    },
    cutAfterBytes(n, direction) {
      tripwire?.disarm();
      tripwire = undefined;
      if (n <= 0) return cut();
      return new Promise<void>((resolve) => {
        tripwire = { direction, left: n, fire: () => void cut().then(resolve), disarm: resolve };
      });
    },
    close() {
      return (closing ??= (async () => {
        tripwire?.disarm();
        tripwire = undefined;
        await reopening?.catch(() => undefined);
        stopListening();
        for (const c of open) for (const pipe of c.pipes) drop(pipe);
        for (const socket of sockets) socket.destroy();
        await Promise.all(servers);
      })());
    },
  };
}

/**
 * A scripted STOMP "broker" on a real socket, for what RabbitMQ will not do on demand: send garbage, cut a
 * frame in half, go silent, never answer CONNECT, close without an ERROR. Each accepted connection runs
 * `script(peer)`; the peer reads the client's frames and writes whatever bytes the test wants.
 *
 * @example
 * const server = await startFakeStompServer(async (peer) => {
 *   await peer.expect('CONNECT');
 *   peer.connected();
 *   peer.write('this is not STOMP');
 * });
 * const session = await connect({ broker: { ...broker, hosts: [server.host] } });
 */
import net from 'node:net';
import tls from 'node:tls';
import { createParser } from '../../src/stomp/parser.js';
import { serializeFrame } from '../../src/stomp/serializer.js';
import type { Frame } from '../../src/stomp/types.js';

export interface FakePeer {
  socket: net.Socket;
  /** Every frame the client sent so far. */
  frames: Frame[];
  /** EOL heart-beats the client sent so far. */
  heartbeats: number;
  /** The next frame from the client (optionally asserting its command). */
  expect(command?: string): Promise<Frame>;
  /** Answers CONNECT (a 1.2 CONNECTED with these headers merged in). */
  connected(headers?: Record<string, string>): void;
  frame(command: string, headers: Record<string, string>, body?: string | Buffer): void;
  write(bytes: string | Buffer): void;
  /** Sends heart-beats every `ms` until the connection ends. */
  beat(ms: number): void;
  end(): void;
  destroy(): void;
}

export interface FakeStompServer {
  host: { host: string; port: number };
  peers: FakePeer[];
  close(): Promise<void>;
}

export async function startFakeStompServer(
  script: (peer: FakePeer) => void | Promise<void>,
  options: { tls?: tls.TlsOptions } = {},
): Promise<FakeStompServer> {
  const peers: FakePeer[] = [];
  const sockets = new Set<net.Socket>();
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const peer = createPeer(socket);
    peers.push(peer);
    Promise.resolve()
      .then(() => script(peer))
      .catch(() => socket.destroy());
  };
  const server = options.tls ? tls.createServer(options.tls, onSocket) : net.createServer(onSocket);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: { host: '127.0.0.1', port },
    peers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function createPeer(socket: net.Socket): FakePeer {
  const waiting: Array<(f: Frame) => void> = [];
  const queued: Frame[] = [];
  let timer: NodeJS.Timeout | undefined;
  const peer: FakePeer = {
    socket,
    frames: [],
    heartbeats: 0,
    expect(command) {
      const next = queued.length ? Promise.resolve(queued.shift()!) : new Promise<Frame>((r) => waiting.push(r));
      return next.then((f) => {
        if (command && f.command !== command) throw new Error(`expected ${command}, got ${f.command}`);
        return f;
      });
    },
    connected(headers = {}) {
      peer.frame('CONNECTED', { version: '1.2', server: 'fake/1.0', 'heart-beat': '0,0', ...headers });
    },
    frame(command, headers, body) {
      peer.write(serializeFrame(command, headers, body));
    },
    write(bytes) {
      if (!socket.destroyed) socket.write(bytes);
    },
    beat(ms) {
      timer = setInterval(() => peer.write('\n'), ms);
    },
    end() {
      socket.end();
    },
    destroy() {
      socket.destroy();
    },
  };
  const parser = createParser({
    onFrame(frame) {
      peer.frames.push(frame);
      const w = waiting.shift();
      if (w) w(frame);
      else queued.push(frame);
    },
    onHeartbeat: () => peer.heartbeats++,
    onDiscarded: () => socket.destroy(),
    onError: () => socket.destroy(),
  });
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
  socket.on('close', () => clearInterval(timer));
  return peer;
}

/**
 * The raw ceiling: the fastest a single connection can get persistent SENDs confirmed by this broker, with no
 * library in the way. A bare net.Socket, CONNECT, then `count` SENDs each with a receipt, written in large
 * coalesced chunks whenever the bounded window has room, counting RECEIPTs (their NULs). Benchmarks compare
 * our client (and the relay) with this figure measured in the same run.
 *
 * @example
 * const { rate } = await rawCeiling({ destination: '/queue/bench-x', count: 20_000 });
 */
import net from 'node:net';

export interface RawCeilingOptions {
  host?: string;
  port?: number;
  vhost?: string;
  login?: string;
  passcode?: string;
  destination: string;
  count: number;
  /** SENDs awaiting a RECEIPT at once. Default 500. */
  window?: number;
  /** Body bytes per message. Default 200. */
  bodySize?: number;
}

export interface RawCeilingResult {
  messages: number;
  seconds: number;
  /** Confirmed messages per second. */
  rate: number;
}

export function rawCeiling(options: RawCeilingOptions): Promise<RawCeilingResult> {
  const { destination, count } = options;
  const window = options.window ?? 500;
  const body = JSON.stringify({ pad: 'x'.repeat(Math.max(0, (options.bodySize ?? 200) - 10)) });
  const head = `SEND\ndestination:${destination}\npersistent:true\ncontent-length:${Buffer.byteLength(body)}\nreceipt:`;

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: options.host ?? '127.0.0.1', port: options.port ?? 61613 });
    socket.setNoDelay(true);
    let connected = false;
    let sent = 0;
    let confirmed = 0;
    let started = 0;

    const fill = (): void => {
      const room = Math.min(window - (sent - confirmed), count - sent);
      if (room <= 0) return;
      let chunk = '';
      for (let i = 0; i < room; i++) chunk += `${head}${sent + i}\n\n${body}\0`;
      sent += room;
      socket.write(chunk);
    };

    socket.on('connect', () => {
      socket.write(
        `CONNECT\naccept-version:1.2\nhost:${options.vhost ?? '/'}\nlogin:${options.login ?? 'guest'}\npasscode:${options.passcode ?? 'guest'}\nheart-beat:0,0\n\n\0`,
      );
    });
    socket.on('data', (data: Buffer) => {
      if (data.includes('ERROR\n')) {
        socket.destroy();
        reject(new Error(`broker ERROR: ${data.toString().slice(0, 300)}`));
        return;
      }
      let frames = 0;
      for (let at = data.indexOf(0); at >= 0; at = data.indexOf(0, at + 1)) frames++;
      if (!connected) {
        // The first NUL ends CONNECTED; the rest are RECEIPTs.
        connected = true;
        frames--;
        started = performance.now();
      }
      confirmed += frames;
      if (confirmed >= count) {
        const seconds = (performance.now() - started) / 1000;
        socket.end(`DISCONNECT\n\n\0`);
        socket.destroy();
        resolve({ messages: confirmed, seconds, rate: confirmed / seconds });
        return;
      }
      fill();
    });
    socket.on('error', reject);
  });
}

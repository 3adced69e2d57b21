/**
 * Sends SEND frames to the real RabbitMQ byte for byte, for what our own client refuses to write: a NUL in a
 * header value, a 1 MB header line, 10,000 headers. RabbitMQ accepts all three from a raw socket and hands
 * them on to subscribers (measured: the NUL arrives raw). Each frame gets a receipt and is awaited.
 *
 * @example
 * await rawSend([{ headers: [['destination', '/topic/x'], ['dop-msg-id', 'a\0b']], body: '{}' }]);
 */
import net from 'node:net';
import { STOMP_HOST, STOMP_PORT } from '../../helpers/broker.js';

export interface RawFrame {
  /** Header lines in order, written as they are (no escaping): the caller's bytes are the point. */
  headers: Array<[string, string | Buffer]>;
  body: string | Buffer;
}

export async function rawSend(frames: RawFrame[], timeoutMs = 60_000): Promise<void> {
  const socket = net.connect(STOMP_PORT, STOMP_HOST);
  socket.setNoDelay(true);
  let input = '';
  const waiters: Array<{ test: (s: string) => boolean; resolve: () => void }> = [];
  const failed = new Promise<never>((_, reject) => {
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`the broker closed the connection: ${input.slice(-300)}`)));
    setTimeout(() => reject(new Error(`raw send timed out: ${input.slice(-300)}`)), timeoutMs).unref();
  });
  failed.catch(() => {});
  socket.on('data', (chunk: Buffer) => {
    input += chunk.toString('latin1');
    for (const w of [...waiters]) if (w.test(input)) w.resolve();
  });
  const until = (test: (s: string) => boolean) =>
    Promise.race([failed, new Promise<void>((resolve) => (test(input) ? resolve() : waiters.push({ test, resolve })))]);
  try {
    socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0');
    await until((s) => s.startsWith('CONNECTED'));
    for (const [i, frame] of frames.entries()) {
      const body = Buffer.isBuffer(frame.body) ? frame.body : Buffer.from(frame.body, 'utf8');
      const parts: Buffer[] = [Buffer.from('SEND\n')];
      for (const [name, value] of frame.headers) parts.push(Buffer.from(`${name}:`), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from('\n'));
      parts.push(Buffer.from(`receipt:raw-${i}\ncontent-length:${body.length}\n\n`), body, Buffer.from([0]));
      socket.write(Buffer.concat(parts));
      await until((s) => s.includes(`receipt-id:raw-${i}\n`));
    }
    socket.write('DISCONNECT\nreceipt:bye\n\n\0');
    await until((s) => s.includes('receipt-id:bye'));
  } finally {
    socket.destroy();
  }
}

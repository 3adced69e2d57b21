/**
 * THE CEILING the relay is held to: a bare socket sending exactly the relay's frames — same headers (the wire
 * format's dop-* set, content-type, persistent), same body, a receipt on every SEND, at most 500 awaiting their
 * receipt (the relay's window), written in big chunks — and no database. RabbitMQ's cost per message grows with
 * its headers (each becomes an AMQP header), so a ceiling with fewer headers would not be the relay's ceiling.
 * The same probe measures each broker (relay.bench.ts: RabbitMQ, activemq.bench.ts: ActiveMQ).
 */
import { randomUUID } from 'node:crypto';
import { connect as dial } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sendBody } from '../../../src/wire/body.js';
import { sendHeaders } from '../../../src/wire/headers.js';
import { rowHeaders } from '../../../test/relay/rows.js';

export interface SameFramesOptions {
  host: string;
  port: number;
  destination: string;
  messages: number;
  window?: number;
}

/** Confirmed messages per second. */
export function sameFramesCeiling(options: SameFramesOptions): Promise<number> {
  const { destination, messages } = options;
  const WINDOW = options.window ?? 500;
  const frame = (n: number): string => {
    const body = sendBody({ n, pad: 'x'.repeat(100) });
    const headers = sendHeaders(rowHeaders(randomUUID(), destination));
    const lines = Object.entries(headers).map(([k, v]) => `${k}:${v}\n`).join('');
    return `SEND\ndestination:${destination}\n${lines}receipt:r${n}\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`;
  };
  return new Promise((resolve, reject) => {
    const socket = dial(options.port, options.host);
    socket.setNoDelay(true);
    let connected = false;
    let sent = 0;
    let confirmed = 0;
    let started = 0;
    const fill = () => {
      const room = Math.min(WINDOW - (sent - confirmed), messages - sent);
      let chunk = '';
      for (let k = 0; k < room; k++) chunk += frame(sent++);
      if (chunk) socket.write(chunk);
    };
    socket.on('error', reject);
    socket.on('connect', () => socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0'));
    socket.on('data', (data: Buffer) => {
      if (data.includes('ERROR\n')) return reject(new Error(`ceiling: ${data.toString().slice(0, 300)}`));
      let frames = 0;
      for (let i = data.indexOf(0); i !== -1; i = data.indexOf(0, i + 1)) frames++;
      if (!connected) {
        connected = true; // the first NUL ends CONNECTED; every later one a RECEIPT
        frames--;
        started = performance.now();
      }
      confirmed += frames;
      if (confirmed >= messages) {
        const rate = messages / ((performance.now() - started) / 1000);
        socket.destroy();
        resolve(rate);
      } else fill();
    });
  });
}


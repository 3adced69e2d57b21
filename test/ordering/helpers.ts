/** The ordering tests' independent subscriber (python3-stomp, one connection) and per-key checks of what it saw. */
import { spawn } from 'node:child_process';
import { orderProblems, type KeyedArrival } from './rows.js';

export interface Subscriber {
  /** Resolves once subscribed. */
  ready: Promise<void>;
  /** Resolves with every message as it arrived (duplicates included), once the expected ids all came. */
  done: Promise<Array<KeyedArrival & { body: any }>>;
  kill(): void;
}

/** Starts test/ordering/fixtures/subscribe_keyed.py on `/queue/<queue>`. */
export function subscribe(queue: string, expected: number, timeoutSeconds: number): Subscriber {
  const child = spawn('/usr/bin/python3', ['test/ordering/fixtures/subscribe_keyed.py', `/queue/${queue}`, String(expected), String(timeoutSeconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<Array<KeyedArrival & { body: any }>>((resolve, reject) =>
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`subscriber exited ${code}: ${err}`));
      const lines = out.split('\n').filter((l) => l && l !== 'ready');
      resolve(
        lines.map((l) => {
          const [id, key, keySeq, ...body] = l.split(' ');
          return { id: id!, key: key!, keySeq: Number(keySeq), body: JSON.parse(body.join(' ')) };
        }),
      );
    }),
  );
  return { ready, done, kill: () => child.kill('SIGKILL') };
}

/** Per key, the first arrival of each message: versions strictly increasing from 1, no gap (orderProblems, on the body's version too). */
export function versionProblems(arrivals: Array<KeyedArrival & { body: any }>): string[] {
  return [...orderProblems(arrivals), ...orderProblems(arrivals.map((a) => ({ id: a.id, key: a.key, keySeq: Number(a.body.version) }))).map((p) => `version: ${p}`)];
}

/** Runs the built CLI (`dist/src/cli/main.js`, built by `npm test`) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CLI = 'dist/src/cli/main.js';
export const CONFIG = 'test/consumer/fixtures/outbox.config.ts';
export const HANDLER = 'test/consumer/fixtures/handler.ts#onMessage';

export interface Child {
  process: ChildProcess;
  /** stdout + stderr so far, in arrival order (which between the two pipes is not the order written). */
  output(): string;
  /** stderr alone, in the order written. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

export function runCli(args: string[], env: Record<string, string> = {}): Child {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', OUTBOX_LOG_LEVEL: '3', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
    err += c.toString();
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { process: child, output: () => out, stderr: () => err, exited };
}

export const consumeArgs = (destination: string, queue: string, handler = HANDLER) => [
  'consume', handler, destination, queue, '--config', CONFIG,
];

/** Shared by the relay tests: read a queue back, capture log lines, run `outbox relay` as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import type { Logger } from '../../src/log/logger.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { StompMessage } from '../../src/stomp/types.js';

/**
 * Reads `/queue/<queue>` (auto-ack) until at least `expected` messages arrived, then keeps listening for
 * `settleMs` so duplicates show up too. Rejects if fewer arrive within `timeoutMs`. Other test files may
 * close every broker connection meanwhile (`rabbitmqctl close_all_connections`): it reconnects and goes on.
 */
export async function readQueue(config: ResolvedConfig, queue: string, expected: number, options: { timeoutMs?: number; settleMs?: number } = {}): Promise<StompMessage[]> {
  const { timeoutMs = 30_000, settleMs = 500 } = options;
  const until = Date.now() + timeoutMs;
  const messages: StompMessage[] = [];
  let settleUntil = 0;
  while (Date.now() < until && (settleUntil === 0 || Date.now() < settleUntil)) {
    let session;
    try {
      session = await connect({ broker: config.broker, logger: silentLogger });
    } catch {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      session.subscribe(`/queue/${queue}`, { ack: 'auto', durable: 'true', 'auto-delete': 'false' }, (m) => messages.push(m));
      while (Date.now() < until) {
        if (messages.length >= expected && settleUntil === 0) settleUntil = Date.now() + settleMs;
        if (settleUntil && Date.now() >= settleUntil) break;
        const closed = await Promise.race([session.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
        if (closed) break;
      }
    } finally {
      await session.disconnect().catch(() => {});
    }
  }
  if (messages.length < expected) throw new Error(`${queue}: only ${messages.length} of ${expected} messages arrived`);
  return messages;
}

/** dop-msg-id → how many times it arrived. */
export function countIds(messages: StompMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const id = m.headers['dop-msg-id'] ?? '';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A logger that keeps every line (with its time) for assertions. */
export function captureLogger(echo = false): Logger & { lines: Array<{ at: number; level: string; text: string }> } {
  const lines: Array<{ at: number; level: string; text: string }> = [];
  const log = (level: string) => (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    lines.push({ at: Date.now(), level, text });
    if (echo) console.log(`[${level}] ${text}`);
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export interface RelayProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout + stderr, in arrival order, which between the two pipes is not the order written). */
  output(): string;
  /** stderr alone, in the order written. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Writes a temporary `outbox.config.mjs` (plain data) and returns its path and a clean-up. */
export function writeConfigFile(config: Record<string, unknown>): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-test-'));
  const path = join(dir, 'outbox.config.mjs');
  writeFileSync(path, `export default ${JSON.stringify(config, null, 2)};\n`);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `outbox <args>` from the sources (tsx), as an operator would run the built CLI. */
export function spawnCli(args: string[], env: Record<string, string> = {}): RelayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', DATABASE_URL: '', OUTBOX_BROKER_URL: '', ...env },
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
  return {
    child,
    output: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(pattern, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > until) throw new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${out}`);
        if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; output: string; stderr: string }> {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return { code, output: p.output(), stderr: p.stderr() };
}

/**
 * Rows a relay gave a failed attempt because its connection dropped under them (not because the broker
 * refused them): the sum of its "N send(s) to … failed, will retry with backoff: <why>" lines whose reason
 * is not `refusal`. Other processes sharing the broker may close every connection (a test's
 * `close_all_connections`); the rows in flight then may arrive twice, and this is how many there can be.
 */
export function rowsRetriedOnDrops(log: string, refusal: RegExp = /PRECONDITION_FAILED|ACCESS_REFUSED|NOT_FOUND/): number {
  let n = 0;
  for (const m of log.matchAll(/(\d+) send\(s\) to .*? failed, will retry with backoff: (.*)/g)) {
    if (!refusal.test(m[2]!)) n += Number(m[1]);
  }
  return n;
}

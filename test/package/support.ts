/** Runs commands as a user's shell would, in a project outside this repository (for pack.test.ts). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';

/** The environment a user's shell would have: none of npm's own variables from `npm test`, none of ours. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'DATABASE_URL' || k === 'OUTBOX_BROKER_URL') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeout?: number;
}

/** Runs a command to completion. */
export function run(command: string, args: string[], options: RunOptions) {
  const r = spawnSync(command, args, {
    cwd: options.cwd,
    env: userEnv(options.env),
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export interface Started {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** stdout + stderr so far. */
  output(): string;
}

/** A long-running `npx …` in its own process group (so clean-up can end all of it with one kill). */
export function startNpx(cwd: string, args: string[], env: Record<string, string>): Started {
  const child = spawn('npx', args, { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, exited, output: () => out };
}

/** Child pids of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after "(comm)": state, ppid, …
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

/**
 * SIGTERM to the `outbox` process itself. `npx` runs it as a grandchild (npm exec → sh -c → node) and does
 * not pass a SIGTERM sent to npm on (npm dies and leaves it running); it does pass the exit code back.
 */
export function terminateOutbox(npx: ChildProcess): void {
  let pid = npx.pid!;
  for (let next = childrenOf(pid); next.length > 0; next = childrenOf(pid)) pid = next[0]!;
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  assert.match(cmdline, /\.bin\/outbox /, `the leaf process of npx is the outbox CLI: ${cmdline}`);
  process.kill(pid, 'SIGTERM');
}

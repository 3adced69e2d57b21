/** Runs commands as a user's shell would, in a project outside this repository (for pack.test.ts). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** `npm pack` of the repository at `root` (dist/ as built) into `dest`; returns the tarball's path. */
export function packTarball(root: string, dest: string): string {
  const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dest, '--silent'], { cwd: root });
  assert.is(pack.code, 0, pack.output);
  const name = pack.stdout.trim().split('\n').pop()!;
  assert.match(name, /^drizzle-outbox-\d+\.\d+\.\d+\.tgz$/);
  return join(dest, name);
}

/**
 * A fresh ESM project at `app` with the tarball and `packages` installed (npm's cache first, the registry
 * for what it lacks).
 */
export function installTarball(app: string, tarball: string, packages: string[], timeout = 120_000, flags: string[] = []) {
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
  return run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...flags, tarball, ...packages], { cwd: app, timeout });
}

/** A long-running `node_modules/.bin/outbox …` in `app`, as production runs it (no npx in between). */
export function startBin(app: string, args: string[], env: Record<string, string>): Started {
  const child = spawn(join(app, 'node_modules/.bin/outbox'), args, { cwd: app, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, exited, output: () => out };
}

/** `run`, without blocking this process (so it can serve what the command talks to, a stand-in API say). */
export function runAsync(command: string, args: string[], options: RunOptions): Promise<ReturnType<typeof run>> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: userEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
}

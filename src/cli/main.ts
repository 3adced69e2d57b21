#!/usr/bin/env node
/**
 * `outbox` — one sub-command per file in this folder, loaded on demand.
 * Errors end the process with one line and a non-zero code: 2 for usage, config and loading
 * mistakes, 1 for everything else. `OUTBOX_DEBUG=1` adds the stack.
 */
import { readFileSync } from 'node:fs';
import { defineCommand, renderUsage, runCommand, type CommandDef } from 'citty';
import { OutboxError } from '../errors.js';

/** The package's own version, read from its package.json (two floors up in src/ and in dist/src/). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'drizzle-outbox' && pkg.version) return pkg.version;
    } catch {
      /* not at this level */
    }
  }
  return 'unknown';
}
const VERSION = packageVersion();

const load = (path: string) => () => import(path).then((m: { default: CommandDef }) => m.default);

const subCommands = {
  generate: load('./generate.js'),
  migrate: load('./migrate.js'),
  relay: load('./relay.js'),
  consume: load('./consume.js'),
  status: load('./status.js'),
  retry: load('./retry.js'),
};

const main = defineCommand({
  meta: { name: 'outbox', version: VERSION, description: 'Transactional outbox and idempotent inbox for Postgres + Drizzle over STOMP' },
  subCommands,
});

async function usage(rawArgs: string[]): Promise<string> {
  const name = rawArgs[0] as keyof typeof subCommands;
  if (name && Object.hasOwn(subCommands, name)) return renderUsage(await subCommands[name](), main);
  return renderUsage(main);
}

function fail(error: unknown): never {
  const e = error as Error;
  const usageError = error instanceof OutboxError && ['E_USAGE', 'E_LOAD', 'E_CONFIG'].includes(error.code);
  process.stderr.write(`outbox: ${e?.message ?? String(error)}\n`);
  if (process.env.OUTBOX_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(usageError ? 2 : 1);
}

async function run(rawArgs: string[]): Promise<void> {
  if (rawArgs.length === 0 || rawArgs.includes('--help') || rawArgs.includes('-h')) {
    process.stdout.write(`${await usage(rawArgs)}\n`);
    return;
  }
  if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  try {
    await runCommand(main, { rawArgs });
  } catch (error) {
    if ((error as Error)?.name === 'CLIError') {
      const message = (error as Error).message.replace(/\x1b\[[0-9;]*m/g, '');
      process.stderr.write(`${await usage(rawArgs).catch(() => '')}\n`);
      fail(new OutboxError('E_USAGE', message));
    }
    throw error;
  }
}

process.on('unhandledRejection', fail);
run(process.argv.slice(2)).catch(fail);

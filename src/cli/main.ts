#!/usr/bin/env node
/**
 * `outbox` — one sub-command per file in this folder, loaded on demand.
 * Errors end the process with one line and a non-zero code: 2 for usage, config and loading mistakes
 * (`outbox: <what to fix>`), 1 for everything else (`outbox: E_<CODE>: <reason>`, the code from README
 * "Error codes"). `OUTBOX_DEBUG=1` adds the stack.
 */
// First: it decides about colour before citty and consola load.
import './colour.js';
import { readFileSync } from 'node:fs';
import { defineCommand, renderUsage, runCommand, type CommandDef } from 'citty';
import { explainDbError, sqlState } from '../db/errors.js';
import { OutboxError } from '../errors.js';
import { environmentHelp } from './environment.js';
import { checkUsage, resolveCommand } from './usage.js';

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
  failed: load('./failed.js'),
  retry: load('./retry.js'),
  dlq: load('./dlq.js'),
  doctor: load('./doctor.js'),
};

const main = defineCommand({
  meta: { name: 'outbox', version: VERSION, description: 'Transactional outbox and idempotent inbox for Postgres + Drizzle over STOMP' },
  subCommands,
});

async function usage(rawArgs: string[]): Promise<string> {
  const words = rawArgs.filter((w) => w !== '--help' && w !== '-h');
  const { command, parent, path } = await resolveCommand(main, words);
  return `${await renderUsage(command, path.length ? parent : undefined)}\n\n${environmentHelp(path)}`;
}

/** Codes whose message says what to fix in what was typed or written: exit 2, no code shown. */
const MISTAKES = ['E_USAGE', 'E_LOAD', 'E_CONFIG'];

function oneLine(error: unknown): string {
  const e = error as Error | undefined;
  // A database error that reached here unexplained (drizzle's "Failed query: <SQL> params: …").
  if (!(error instanceof OutboxError) && (sqlState(error) || /^Failed query/.test(e?.message ?? ''))) return explainDbError(error).message;
  return (e?.message ?? String(error)).split('\n')[0]!;
}

function fail(error: unknown): never {
  const e = error as Error;
  const mistake = error instanceof OutboxError && MISTAKES.includes(error.code);
  const code = error instanceof OutboxError && !mistake ? `${error.code}: ` : '';
  process.stderr.write(`outbox: ${code}${oneLine(error)}\n`);
  if (process.env.OUTBOX_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(mistake ? 2 : 1);
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
    await checkUsage(main, rawArgs);
    await runCommand(main, { rawArgs });
  } catch (error) {
    // citty's own (a missing positional argument): one line too, saying where the help is.
    if ((error as Error)?.name === 'CLIError') {
      const { path } = await resolveCommand(main, rawArgs).catch(() => ({ path: [] as string[] }));
      const message = (error as Error).message.replace(/\x1b\[[0-9;]*m/g, '');
      fail(new OutboxError('E_USAGE', `${message} (see outbox ${[...path, '--help'].join(' ')})`));
    }
    throw error;
  }
}

process.on('unhandledRejection', fail);
run(process.argv.slice(2)).catch(fail);

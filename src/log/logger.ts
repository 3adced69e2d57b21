import { format } from 'node:util';
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from 'consola';

/**
 * The logger seam: anything with these four methods. consola instances fit, and so does `console`.
 * Components tag their own logger (`relay`, `consumer`, `stomp`) so lines say where they came from.
 */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

let root: ConsolaInstance | undefined;

/** `text`: `[relay] warn: …` for people; `json`: one JSON object a line for log shippers. */
export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

let chosenFormat: LogFormat | undefined;

/**
 * Chooses the format of every default logger, before the first is made (`--log-format`); without it,
 * `OUTBOX_LOG_FORMAT` decides, else `text`.
 */
export function setLogFormat(value: LogFormat): void {
  chosenFormat = value;
  root = undefined;
}

/** The default logger: consola, level from `OUTBOX_LOG_LEVEL` (0 silent … 4 debug, default 3), one line per entry. */
export function defaultLogger(tag: string): Logger {
  const json = (chosenFormat ?? process.env.OUTBOX_LOG_FORMAT) === 'json';
  root ??= createConsola({ level: Number(process.env.OUTBOX_LOG_LEVEL ?? 3), reporters: [json ? jsonReporter() : lineReporter()] });
  return root.withTag(tag);
}

/**
 * Structured fields for an entry, passed as its last argument: `logger.warn(text, logFields({ destination,
 * count }))`. The text format leaves them out (the text says it already); the JSON format adds them as keys.
 */
export class LogFields {
  constructor(readonly fields: Record<string, string | number | boolean | null | undefined>) {}

  /** Loggers that only join their arguments as text (`console`) print nothing for the fields. */
  toString(): string {
    return '';
  }
}

export const logFields = (fields: LogFields['fields']): LogFields => new LogFields(fields);

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const LABELS: Record<string, { text: string; colour: number }> = {
  fatal: { text: 'error', colour: 31 },
  error: { text: 'error', colour: 31 },
  warn: { text: 'warn', colour: 33 },
  info: { text: 'info', colour: 36 },
  success: { text: 'info', colour: 32 },
  ready: { text: 'info', colour: 32 },
  start: { text: 'info', colour: 36 },
  log: { text: 'info', colour: 36 },
  debug: { text: 'debug', colour: 90 },
  trace: { text: 'debug', colour: 90 },
  verbose: { text: 'debug', colour: 90 },
};

/**
 * `[relay] warn: <message>` — one line per entry, whatever the terminal: consola's own reporters frame warnings
 * and errors with blank lines and print an Error's stack over many. Log collectors read one event per line.
 * An Error argument is its message, unless the text says it already (its stack with `OUTBOX_DEBUG=1`);
 * colour only on a terminal.
 * Warnings and errors go to stderr, the rest to stdout.
 */
export function lineReporter(): ConsolaReporter {
  return {
    log(entry: LogObject, ctx) {
      const toErr = entry.level < 2;
      const stream = (toErr ? ctx.options.stderr : ctx.options.stdout) ?? (toErr ? process.stderr : process.stdout);
      const label = LABELS[entry.type] ?? { text: entry.type, colour: 39 };
      const parts: string[] = [];
      for (const arg of entry.args) {
        if (arg instanceof LogFields) continue;
        if (!(arg instanceof Error)) parts.push(typeof arg === 'string' ? arg : format(arg));
        else if (process.env.OUTBOX_DEBUG) parts.push(arg.stack ?? arg.message);
        // `logger.error(\`handler threw: ${e.message}\`, e)`: the message is in already.
        else if (!parts.some((p) => p.includes(arg.message))) parts.push(arg.message);
      }
      const text = parts
        .join(' ')
        .replace(/\s*\n\s*/g, process.env.OUTBOX_DEBUG ? '\n    ' : ' ')
        .trimEnd();
      const colour = Boolean((stream as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;
      const level = colour ? `\x1b[${label.colour}m${label.text}\x1b[39m` : label.text;
      stream.write(`${entry.tag ? `[${entry.tag}] ` : ''}${level}: ${text}\n`);
    },
  };
}

/**
 * `{"time":"…","level":"warn","component":"relay","msg":"…", …fields}` — one object a line, for log shippers.
 * Fields come from a `logFields()` argument; an Error argument adds `error_code` (its `code`) and, unless the
 * text says it already, `error`. Same streams as the text format: warnings and errors to stderr.
 */
export function jsonReporter(): ConsolaReporter {
  return {
    log(entry: LogObject, ctx) {
      const toErr = entry.level < 2;
      const stream = (toErr ? ctx.options.stderr : ctx.options.stdout) ?? (toErr ? process.stderr : process.stdout);
      const parts: string[] = [];
      const line: Record<string, unknown> = {
        time: (entry.date ?? new Date()).toISOString(),
        level: (LABELS[entry.type] ?? { text: entry.type }).text,
        component: entry.tag || undefined,
        msg: '',
      };
      for (const arg of entry.args) {
        if (arg instanceof LogFields) Object.assign(line, arg.fields);
        else if (arg instanceof Error) {
          const code = (arg as { code?: unknown }).code;
          if (typeof code === 'string' && line.error_code === undefined) line.error_code = code;
          if (!parts.some((p) => p.includes(arg.message))) line.error = arg.message;
          if (process.env.OUTBOX_DEBUG && arg.stack) line.stack = arg.stack;
        } else parts.push(typeof arg === 'string' ? arg : format(arg));
      }
      line.msg = parts.join(' ');
      stream.write(`${JSON.stringify(line)}\n`);
    },
  };
}

import { createConsola, type ConsolaInstance } from 'consola';

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

/** The default logger: consola, level from `OUTBOX_LOG_LEVEL` (0 silent … 4 debug, default 3). */
export function defaultLogger(tag: string): Logger {
  root ??= createConsola({ level: Number(process.env.OUTBOX_LOG_LEVEL ?? 3) });
  return root.withTag(tag);
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

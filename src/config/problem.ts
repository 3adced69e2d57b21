import { OutboxError } from '../errors.js';

/** A value as a config error shows it: its kind, a string quoted; never an object's contents, which may hold secrets. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return typeof value;
}

/** Every config mistake is this error: `E_CONFIG`, the message starting with the key path. */
export function fail(path: string, problem: string): never {
  throw new OutboxError('E_CONFIG', `${path}: ${problem}`);
}

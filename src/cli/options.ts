/**
 * Option values that citty hands over as strings (it has no number type): checked here, so a mistake is
 * one E_USAGE line naming the option, never a silent NaN.
 */
import { OutboxError } from '../errors.js';

/** `--limit 50` → 50; a positive whole number or E_USAGE. */
export function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(String(value).trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new OutboxError('E_USAGE', `--${name} must be a positive whole number, not "${value}"`);
  }
  return n;
}

const UNITS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400 };

/**
 * `--since 2h` (also `90s`, `30m`, `1.5d`) → that long ago by the database clock; `--since 2026-11-30T08:00Z`
 * (any date or date-time JavaScript reads as ISO-8601) → that instant.
 */
export function since(value: string | undefined): { seconds: number } | { at: string } | undefined {
  if (value === undefined) return undefined;
  const duration = /^(\d+(?:\.\d+)?)(s|m|min|h|d)$/.exec(value.trim());
  if (duration) return { seconds: Number(duration[1]) * UNITS[duration[2]!]! };
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return { at: new Date(value).toISOString() };
  throw new OutboxError('E_USAGE', `--since takes a duration (90s, 30m, 2h, 1d) or an ISO-8601 time (2026-11-30T08:00:00Z), not "${value}"`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--id a --id b` or `--id a,b` → the ids; each must be a row id (a UUID, its dop-msg-id). */
export function rowIds(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const ids = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
  for (const id of ids) if (!UUID.test(id)) throw new OutboxError('E_USAGE', `--id takes an outbox row id (a UUID, its dop-msg-id), not "${id}"`);
  return ids;
}

/**
 * Which driver sits under a Drizzle database. The library works with all three; a few things differ per
 * driver (how to LISTEN, how to run a migration, how to run a transaction safely), and they are decided here.
 */
import type { OutboxDb } from './types.js';

export type Driver = 'node-postgres' | 'postgres-js' | 'pglite' | 'unknown';

/** The driver's client (`db.$client`). */
export function clientOf(db: OutboxDb): unknown {
  return (db as unknown as { $client?: unknown }).$client;
}

export function driverOf(db: OutboxDb): Driver {
  const client = clientOf(db) as { constructor?: { name?: string }; listen?: unknown; connect?: unknown; query?: unknown } | undefined;
  if (!client) return 'unknown';
  if (client.constructor?.name === 'PGlite') return 'pglite';
  // postgres.js: the client is a tagged-template function with listen(channel, fn).
  if (typeof client === 'function' && typeof (client as { listen?: unknown }).listen === 'function') return 'postgres-js';
  // node-postgres: a Pool or a Client (both have connect and query).
  if (typeof client.connect === 'function' && typeof client.query === 'function') return 'node-postgres';
  return 'unknown';
}

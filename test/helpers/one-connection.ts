/**
 * A node-postgres pool of one connection, and drizzle on it, that writes down every statement the connection
 * is sent (each one round trip): its text, or a prepared statement's name. For tests of what a transaction
 * sends; clear `sent` with `sent.length = 0`.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { OutboxDb } from '../../src/db/types.js';

export interface OneConnection {
  pool: pg.Pool;
  db: OutboxDb;
  sent: string[];
}

export function oneConnection(url: string): OneConnection {
  const sent: string[] = [];
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const c = args[0] as string | { name?: string; text: string };
      sent.push(typeof c === 'string' ? c : (c.name ?? c.text));
      return query(...args);
    };
  });
  return { pool, db: drizzle({ client: pool }) as unknown as OutboxDb, sent };
}

/**
 * A node-postgres pool of one connection, and drizzle on it, that writes down every statement the connection
 * is sent (each one round trip): its text, or a prepared statement's name. For tests of what a transaction
 * sends; clear `sent` with `sent.length = 0`. `echoDatabase` adds a test database with a table to write to.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { preparedStatement } from '../../src/db/prepared.js';
import type { OutboxDb } from '../../src/db/types.js';
import { createTestDatabase, type TestDatabase } from './db.js';

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

/** Inserts a row into `echo` and returns what it stored. */
export const echoInsert = preparedStatement('insert into echo (id, t, j) values ($1, $2, $3::jsonb) returning t, j');

/** A test database with a table `echo (id int primary key, t text, j jsonb)`, and one connection on it. */
export async function echoDatabase(): Promise<OneConnection & { t: TestDatabase }> {
  const t = await createTestDatabase({ migrate: false });
  await t.sql`create table echo (id int primary key, t text, j jsonb)`;
  return { t, ...oneConnection(t.url) };
}

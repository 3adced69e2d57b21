/**
 * Each test file gets its own fresh database with the library's migrations applied, and drops it at
 * the end, so files never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from '../../src/db/migrate.js';
import type { OutboxDb } from '../../src/db/types.js';

export const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** postgres.js client on the database (for raw checks). */
  sql: postgres.Sql;
  db: OutboxDb;
  drop(): Promise<void>;
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `outbox_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  const db = drizzle({ client: sql }) as unknown as OutboxDb;
  if (options.migrate !== false) await migrate(db);
  let dropped: Promise<void> | undefined;
  return {
    name,
    url,
    sql,
    db,
    drop: () =>
      (dropped ??= (async () => {
        await sql.end({ timeout: 5 });
        const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists "${name}" with (force)`);
        await a.end();
      })()),
  };
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaults } from '../config/defaults.js';
import type { TableNames } from '../config/types.js';
import { OutboxError } from '../errors.js';
import type { OutboxDb } from './types.js';

/**
 * Our own migrations table. Sharing the user's `__drizzle_migrations` would make drizzle skip ours
 * (it applies only migrations newer than the last one it recorded there).
 */
export const MIGRATIONS_TABLE = '__outbox_migrations';
export const MIGRATIONS_SCHEMA = 'public';

/** The `drizzle/` folder shipped with the package, found from this file in `src/` or `dist/src/`. */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new OutboxError('E_LOAD', 'the package has no drizzle/ migrations folder (broken install?)');
}

/**
 * Applies the library's migrations; idempotent (already-applied ones are skipped).
 * The shipped SQL uses the default table names; with custom names, put the generated schema
 * into your own drizzle-kit migrations instead.
 */
export async function migrate(db: OutboxDb, tables: TableNames = defaults.tables): Promise<void> {
  const custom = (Object.keys(defaults.tables) as (keyof TableNames)[]).filter((k) => tables[k] !== defaults.tables[k]);
  if (custom.length > 0) {
    throw new OutboxError(
      'E_CONFIG',
      `outbox migrate applies the default table names only (tables.${custom[0]} is "${tables[custom[0]!]}"): ` +
        'include the generated schema.ts in your drizzle-kit config instead',
    );
  }
  const options = { migrationsFolder: migrationsFolder(), migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA };
  const client = (db as unknown as { $client?: object }).$client;
  try {
    if (client && client.constructor?.name === 'PGlite') {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(db as never, options);
    } else {
      const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
      await run(db as never, options);
    }
  } catch (cause) {
    throw new OutboxError('E_DATABASE', `migration failed: ${(cause as Error).message}`, { cause });
  }
}

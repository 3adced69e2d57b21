import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaults } from '../config/defaults.js';
import type { TableNames } from '../config/types.js';
import { sql } from 'drizzle-orm';
import { OutboxError } from '../errors.js';
import { driverOf } from './driver.js';
import { describeDbError } from './errors.js';
import { rowsOf, type OutboxDb } from './types.js';

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

/** One shipped migration, from drizzle/meta/_journal.json: its tag (`0005_pending_due`) and its timestamp. */
export interface MigrationEntry {
  tag: string;
  when: number;
}

/** The shipped migrations, in order. */
export async function shippedMigrations(): Promise<MigrationEntry[]> {
  const journal = JSON.parse(await readFile(join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as { entries: MigrationEntry[] };
  return journal.entries.map(({ tag, when }) => ({ tag, when }));
}

/**
 * The timestamp of the newest migration recorded for these table names, or null when none is (the table
 * of applied migrations does not exist yet). Drizzle applies exactly the shipped migrations newer than it.
 */
export async function lastAppliedMigration(db: OutboxDb, tables: TableNames = defaults.tables): Promise<number | null> {
  const name = migrationsTableFor(tables);
  const [present] = rowsOf<{ present: boolean }>(await db.execute(sql`select to_regclass(${`${MIGRATIONS_SCHEMA}."${name}"`}) is not null as present`));
  if (!present?.present) return null;
  const table = sql`${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(name)}`;
  const [row] = rowsOf<{ last: string | number | null }>(await db.execute(sql`select max(created_at) as last from ${table}`));
  return row?.last == null ? null : Number(row.last);
}

/**
 * Applies the library's migrations; idempotent (already-applied ones are skipped), recorded in their own
 * table `__outbox_migrations`. With custom table names (config `tables`), the shipped SQL is applied with
 * the names substituted (indexes, sequence, trigger and NOTIFY channel follow the published table's name),
 * recorded in `__<published>_migrations` so that two name sets in one database don't mask each other.
 * Returns the tags of the migrations it applied (none: the database was up to date).
 */
export async function migrate(db: OutboxDb, tables: TableNames = defaults.tables): Promise<{ applied: string[] }> {
  const custom = (Object.keys(defaults.tables) as (keyof TableNames)[]).some((k) => tables[k] !== defaults.tables[k]);
  const before = await lastAppliedMigration(db, tables);
  const folder = custom ? await renamedMigrations(tables) : migrationsFolder();
  const options = { migrationsFolder: folder, migrationsTable: migrationsTableFor(tables), migrationsSchema: MIGRATIONS_SCHEMA };
  try {
    const driver = driverOf(db);
    if (driver === 'pglite') {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(db as never, options);
    } else if (driver === 'node-postgres') {
      const { migrate: run } = await import('drizzle-orm/node-postgres/migrator');
      await run(db as never, options);
    } else {
      const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
      await run(db as never, options);
    }
  } catch (cause) {
    throw new OutboxError('E_DATABASE', `migration failed: ${describeDbError(cause)}`, { cause });
  } finally {
    if (custom) await rm(folder, { recursive: true, force: true });
  }
  return { applied: (await shippedMigrations()).filter((m) => before === null || m.when > before).map((m) => m.tag) };
}

/** Where `migrate` records what it applied for these table names. */
export function migrationsTableFor(tables: TableNames): string {
  // Not the idle table's name: it came later, and naming it alone must not make the applied migrations of
  // the standard names look unapplied.
  const standard = (['published', 'received', 'maintenance'] as const).every((k) => tables[k] === defaults.tables[k]);
  return standard ? MIGRATIONS_TABLE : `__${tables.published}_migrations`;
}

/** A temporary copy of drizzle/ with the default table names replaced (every identifier starts with one). */
async function renamedMigrations(tables: TableNames): Promise<string> {
  const source = migrationsFolder();
  const target = await mkdtemp(join(tmpdir(), 'outbox-migrations-'));
  await cp(join(source, 'meta'), join(target, 'meta'), { recursive: true });
  const names = new Map<string, string>((Object.keys(defaults.tables) as (keyof TableNames)[]).map((k) => [defaults.tables[k], tables[k]]));
  // Longest first: `outbox_published_idle` must not be read as `outbox_published` + `_idle`.
  const pattern = new RegExp([...names.keys()].sort((a, b) => b.length - a.length).join('|'), 'g');
  for (const file of await readdir(source)) {
    if (!file.endsWith('.sql')) continue;
    const sql = await readFile(join(source, file), 'utf8');
    await writeFile(join(target, file), sql.replace(pattern, (name) => names.get(name)!));
  }
  return target;
}

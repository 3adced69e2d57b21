/**
 * What the library needs to know about a user's Drizzle table: its SQL name, its columns' property names and
 * its single-column primary key. Read by config validation, the publish helpers and the code generator.
 */
import { getTableColumns, is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';

/** What the body rules need to know about a model's table, computed once per table. */
export interface TableShape {
  /** SQL table name, for messages. */
  name: string;
  /** Property names of the columns, in declaration order (the keys of a selected row). */
  columns: string[];
  /** Property name of the single-column primary key, if the table has one. */
  primaryKey?: string;
}

const shapes = new WeakMap<object, TableShape>();

/** The columns and primary key of a Drizzle table (undefined when it is not a Drizzle Postgres table). */
export function tableShape(table: unknown): TableShape | undefined {
  let shape = typeof table === 'object' && table !== null ? shapes.get(table) : undefined;
  if (shape) return shape;
  if (!is(table, PgTable)) return undefined;
  const columns = getTableColumns(table);
  const keys = Object.keys(columns);
  let primaryKey = keys.find((k) => columns[k]!.primary);
  if (!primaryKey) {
    // primaryKey({ columns: [t.x] }) declared in the extra config: one column is still a single key.
    const composite = getTableConfig(table).primaryKeys;
    if (composite.length === 1 && composite[0]!.columns.length === 1) {
      const column = composite[0]!.columns[0]!;
      primaryKey = keys.find((k) => columns[k] === column);
    }
  }
  shape = { name: getTableConfig(table).name, columns: keys, primaryKey };
  shapes.set(table, shape);
  return shape;
}

import type { SQL } from 'drizzle-orm';
import type { PgTable, PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { ModelConfig, PublishConfig } from '../config/types.js';
import { OutboxError } from '../errors.js';
import { pascalCase, validateModel } from '../config/validate-model.js';
import type { OutboxTx } from '../db/types.js';
import { finalDestination } from '../wire/destination.js';
import { tableShape, type TableShape } from '../db/table-shape.js';
import { modelBody } from './model-body.js';
import { assertTransaction, writeOutbox, type OutboxDraft, type OutboxTarget } from './write.js';

/** The config of the model a helper serves: its key (for messages) and its `{ table, publish }`. */
export interface ModelTarget extends OutboxTarget {
  /** The model's key in `models`, e.g. `order`. */
  name: string;
}

type Row<T extends PgTable> = T['$inferSelect'];

/**
 * Inserts business rows and, in the same transaction, one outbox row per publish config per inserted
 * row, in config order. What the generated `insert<Model>WithOutbox` calls.
 *
 * @example
 * await db.transaction((tx) => insertWithOutbox(tx, config.models.order, { status: 'new' }, { name: 'order' }));
 */
export async function insertWithOutbox<T extends PgTable>(
  tx: OutboxTx,
  model: ModelConfig<T>,
  values: T['$inferInsert'] | readonly T['$inferInsert'][],
  target: ModelTarget,
): Promise<Row<T>[]> {
  const shape = prepare(tx, model, target, 'insert');
  const list = (Array.isArray(values) ? values : [values]) as T['$inferInsert'][];
  if (list.length === 0) return [];
  const rows = (await tx.insert(model.table).values(list).returning()) as Row<T>[];
  await writeOutbox(tx, events(rows, model, shape, target.name), target);
  return rows;
}

/**
 * Updates the rows `where` selects and, in the same transaction, writes one outbox row per publish
 * config per updated row (none when nothing matched). What the generated `update<Model>WithOutbox` calls.
 */
export async function updateWithOutbox<T extends PgTable>(
  tx: OutboxTx,
  model: ModelConfig<T>,
  where: SQL,
  set: PgUpdateSetSource<T>,
  target: ModelTarget,
): Promise<Row<T>[]> {
  const shape = prepare(tx, model, target, 'update');
  const rows = (await tx.update(model.table).set(set).where(where).returning()) as Row<T>[];
  await writeOutbox(tx, events(rows, model, shape, target.name), target);
  return rows;
}

const checked = new WeakSet<object>();

function prepare(tx: unknown, model: ModelConfig<any>, target: ModelTarget, verb: string): TableShape {
  assertTransaction(tx, () => `${verb}${pascalCase(target.name)}WithOutbox()`);
  // Generated code may be older than the config it imports: check each model once per process.
  if (!checked.has(model)) {
    validateModel(target.name, model);
    checked.add(model);
  }
  return tableShape(model.table)!;
}

function events(rows: readonly Record<string, unknown>[], model: ModelConfig<any>, shape: TableShape, name: string): OutboxDraft[] {
  const drafts: OutboxDraft[] = [];
  for (const row of rows) {
    for (const config of model.publish) {
      const destination = finalDestination(config.destination, config.version);
      const context = `model ${name}, ${destination}`;
      drafts.push({ destination, body: modelBody(row, shape, config), context, key: keyOf(row, config.key, context) });
    }
  }
  return drafts;
}

/** The row's ordering key: a column's value as a string, or what the config's function returns. */
function keyOf(row: Record<string, unknown>, key: PublishConfig['key'], context: string): string | undefined {
  if (key === undefined) return undefined;
  const value = typeof key === 'function' ? key(row) : row[key];
  if (value === null || value === undefined) {
    throw new OutboxError('E_INVALID_HEADER', `the ordering key ${typeof key === 'function' ? '(key function)' : `column "${key}"`} is ${String(value)} for a row (${context}): a keyed event needs a key`);
  }
  return typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : String(value);
}

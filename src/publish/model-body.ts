import type { PublishConfig } from '../config/types.js';
import type { TableShape } from '../db/table-shape.js';

/**
 * The body of one event about one row, before JSON conversion (django-outbox-pattern's rules):
 * a serializer's result if there is one (it wins over `fields`); else `{ id, ...fields }`; else
 * `{ id, ...every column }`. `id` is the primary key's value, whatever the key column is called.
 */
export function modelBody(row: Record<string, unknown>, shape: TableShape, config: PublishConfig<any>): unknown {
  if (config.serializer) return config.serializer(row);
  const id = row[shape.primaryKey!];
  const body: Record<string, unknown> = { id };
  if (config.fields) for (const field of config.fields) body[field] = row[field];
  else Object.assign(body, row);
  // The key stays first; a non-key column that happens to be called `id` does not replace it.
  body.id = id;
  return body;
}

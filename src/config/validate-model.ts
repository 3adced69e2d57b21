import { tableShape } from '../db/table-shape.js';
import { destinationProblem, finalDestination, versionProblem } from '../wire/destination.js';
import { describe, fail } from './problem.js';
import type { ModelConfig } from './types.js';

const MODEL_KEYS = new Set(['table', 'publish']);
const PUBLISH_KEYS = new Set(['destination', 'fields', 'serializer', 'version', 'key']);
/** Model keys become helper names: `order` → `insertOrderWithOutbox`. */
const MODEL_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Checks one model; also run once per model by the helpers, so stale generated code fails loudly. */
export function validateModel(key: string, model: ModelConfig<any>): void {
  const at = `models.${key}`;
  if (!MODEL_KEY.test(key)) fail(at, 'the model name must be letters, digits and _, starting with a letter');
  if (model === null || typeof model !== 'object') fail(at, 'must be { table, publish: [...] }');
  for (const k of Object.keys(model)) if (!MODEL_KEYS.has(k)) fail(`${at}.${k}`, 'unknown key (expected table, publish)');
  const shape = tableShape(model.table);
  if (!shape) fail(`${at}.table`, `is not a Drizzle table (expected pgTable(...) from drizzle-orm/pg-core), got ${describe(model.table)}`);
  if (!Array.isArray(model.publish) || model.publish.length === 0) {
    fail(`${at}.publish`, 'must be a non-empty list of { destination, fields?, serializer?, version? }');
  }
  const seen = new Map<string, number>();
  model.publish.forEach((entry, i) => {
    const p = `${at}.publish[${i}]`;
    if (entry === null || typeof entry !== 'object') fail(p, 'must be { destination, fields?, serializer?, version? }');
    for (const k of Object.keys(entry)) {
      if (!PUBLISH_KEYS.has(k)) fail(`${p}.${k}`, 'unknown key (expected destination, fields, serializer, version, key)');
    }
    const destination = destinationProblem(entry.destination);
    if (destination) fail(`${p}.destination`, destination);
    const version = versionProblem(entry.version);
    if (version) fail(`${p}.version`, version);
    if (entry.serializer !== undefined && typeof entry.serializer !== 'function') {
      fail(`${p}.serializer`, `must be a function (row) => body, got ${describe(entry.serializer)}`);
    }
    if (entry.key !== undefined && typeof entry.key !== 'function' && (typeof entry.key !== 'string' || !shape.columns.includes(entry.key))) {
      fail(`${p}.key`, `must be a column of table "${shape.name}" or a function (row) => string, got ${describe(entry.key)} (columns: ${shape.columns.join(', ')})`);
    }
    if (entry.fields !== undefined) {
      if (!Array.isArray(entry.fields)) fail(`${p}.fields`, 'must be a list of column names');
      const fields = new Set<string>();
      for (const field of entry.fields as unknown[]) {
        if (typeof field !== 'string' || !shape.columns.includes(field)) {
          fail(`${p}.fields`, `unknown column ${JSON.stringify(field)} of table "${shape.name}" (columns: ${shape.columns.join(', ')})`);
        }
        if (fields.has(field)) fail(`${p}.fields`, `lists "${field}" twice`);
        fields.add(field);
      }
    }
    if (!entry.serializer && !shape.primaryKey) {
      fail(p, `table "${shape.name}" has no single-column primary key to send as "id": give this entry a serializer`);
    }
    const final = finalDestination(entry.destination, entry.version);
    const before = seen.get(final);
    if (before !== undefined) {
      fail(p, `duplicate destination+version "${final}" (also publish[${before}]): each event would be sent twice`);
    }
    seen.set(final, i);
  });
}

/** `order_item` / `orderItem` → `OrderItem`. */
export function pascalCase(key: string): string {
  return key
    .split(/_+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

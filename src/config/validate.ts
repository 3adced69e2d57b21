import { OutboxError } from '../errors.js';
import { destinationProblem, finalDestination, versionProblem } from '../wire/destination.js';
import { tableShape } from '../db/table-shape.js';
import { defaults, resolveTables } from './defaults.js';
import type { ModelConfig, OutboxConfig, TableNames } from './types.js';

const MODEL_KEYS = new Set(['table', 'publish']);
const PUBLISH_KEYS = new Set(['destination', 'fields', 'serializer', 'version']);
/** Postgres identifiers are at most 63 bytes; the longest suffix we append is `_pending_seq_idx`. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,46}$/;
/** Model keys become helper names: `order` → `insertOrderWithOutbox`. */
const MODEL_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Checks the parts of a config that only the user can get wrong and that would otherwise surface late
 * (at generate time, at insert time, or as a message the broker drops). Every error is an `E_CONFIG`
 * whose message starts with the key path, e.g. `models.order.publish[1].fields: unknown column "stauts"`.
 * Numbers and durations are checked by `resolveConfig`.
 */
export function validateConfig(config: OutboxConfig): void {
  if (config === null || typeof config !== 'object') fail('config', 'must be an object (export default defineConfig({ … }))');
  if (config.out !== undefined && (typeof config.out !== 'string' || config.out.trim() === '')) {
    fail('out', 'must be a non-empty directory path');
  }
  if (config.headers !== undefined && typeof config.headers !== 'function') {
    fail('headers', `must be a function (row) => Record<string, string>, got ${describe(config.headers)}`);
  }
  validateTables(config.tables);
  const models = config.models;
  if (models === undefined) return;
  if (models === null || typeof models !== 'object' || Array.isArray(models)) {
    fail('models', 'must be an object: { modelName: { table, publish: [...] } }');
  }
  const helperNames = new Map<string, string>();
  for (const [key, model] of Object.entries(models)) {
    validateModel(key, model);
    const pascal = pascalCase(key);
    const clash = helperNames.get(pascal);
    if (clash) fail(`models.${key}`, `gives the same helper names as models.${clash} (insert${pascal}WithOutbox)`);
    helperNames.set(pascal, key);
  }
}

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
      if (!PUBLISH_KEYS.has(k)) fail(`${p}.${k}`, 'unknown key (expected destination, fields, serializer, version)');
    }
    const destination = destinationProblem(entry.destination);
    if (destination) fail(`${p}.destination`, destination);
    const version = versionProblem(entry.version);
    if (version) fail(`${p}.version`, version);
    if (entry.serializer !== undefined && typeof entry.serializer !== 'function') {
      fail(`${p}.serializer`, `must be a function (row) => body, got ${describe(entry.serializer)}`);
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

function validateTables(tables: OutboxConfig['tables']): void {
  if (tables === undefined) return;
  if (tables === null || typeof tables !== 'object') fail('tables', 'must be { published?, received?, maintenance?, idle? }');
  const names = new Map<string, string>();
  for (const [key, name] of Object.entries(tables)) {
    if (!(key in defaults.tables)) fail(`tables.${key}`, 'unknown key (expected published, received, maintenance, idle)');
    if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
      fail(`tables.${key}`, `${JSON.stringify(name)} must be a lowercase SQL name (a-z, 0-9, _; at most 47 characters)`);
    }
  }
  const resolved: TableNames = resolveTables(tables);
  for (const [key, name] of Object.entries(resolved)) {
    const other = names.get(name);
    if (other) fail(`tables.${key}`, `"${name}" is also tables.${other}`);
    names.set(name, key);
  }
}

/** `order_item` / `orderItem` → `OrderItem`. */
export function pascalCase(key: string): string {
  return key
    .split(/_+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return typeof value;
}

function fail(path: string, problem: string): never {
  throw new OutboxError('E_CONFIG', `${path}: ${problem}`);
}

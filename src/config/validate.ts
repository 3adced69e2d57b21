import { defaults, resolveTables } from './defaults.js';
import { describe, fail } from './problem.js';
import { checkQueueHeaders } from './queue-headers.js';
import type { ResolvedConfig } from './resolved.js';
import type { OutboxConfig, TableNames } from './types.js';
import { pascalCase, validateModel } from './validate-model.js';
import { checkBroker, checkNumbers } from './validate-settings.js';

/** Postgres identifiers are at most 63 bytes; the longest suffix we append is `_pending_seq_idx`. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,46}$/;

/**
 * Checks the parts of a config that only the user can get wrong and that would otherwise surface late
 * (at generate time, at insert time, or as a message the broker drops). Every error is an `E_CONFIG`
 * whose message starts with the key path, e.g. `models.order.publish[1].fields: unknown column "stauts"`.
 * Numbers, durations and the broker are checked by `resolveConfig`, after defaults and the environment
 * apply (`validateResolved`).
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

/**
 * Checks every setting as the runtime will use it: after defaults and the environment apply, so a host
 * from `OUTBOX_BROKER_URL` is held to the same rules as one from the file. `resolveConfig` runs it after
 * `validateConfig`; together they are the one validation of a config, and nothing downstream checks again.
 */
export function validateResolved(c: ResolvedConfig): void {
  checkNumbers(c);
  checkBroker(c.broker);
  checkQueueHeaders(c.consumer.queueHeaders);
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

import { resolveTables } from './defaults.js';
import { CONFIG_KEYS, checkKeys } from './keys.js';
import { describe, fail } from './problem.js';
import { checkQueueHeaders, checkQueueType } from './queue-headers.js';
import type { ResolvedConfig } from './resolved.js';
import type { OutboxConfig, TableNames } from './types.js';
import { pascalCase, validateModel } from './validate-model.js';
import { badHosts, checkBroker, checkConsumer, checkDatabase, checkNumbers } from './validate-settings.js';

/** Postgres identifiers are at most 63 bytes; the longest suffix we append is `_pending_seq_idx`. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,46}$/;

/**
 * Checks a config as written: that it and each of its sections are objects of known keys (a misspelt key
 * is named with the key it is closest to, instead of being ignored while its default applies), the shapes
 * resolution would lose (`broker.hosts`, `broker.tls`), and the parts only the user can get wrong that would
 * otherwise surface late (at generate time, at insert time, or as a message the broker drops): models,
 * tables, `out`, `headers`. Every error is an `E_CONFIG` whose message starts with the key path, e.g.
 * `models.order.publish[1].fields: unknown column "stauts"` or `relay.batchsize: unknown key (did you mean
 * batchSize?)`. The values of settings are checked once defaults and the environment apply
 * (`validateResolved`); `resolveConfig` runs both.
 */
export function validateConfig(config: OutboxConfig): void {
  if (config === null || typeof config !== 'object') fail('config', 'must be an object (export default defineConfig({ … }))');
  checkKeys(config, CONFIG_KEYS.config);
  for (const name of ['broker', 'database', 'relay', 'consumer', 'retention'] as const) {
    if (config[name] !== undefined) checkSection(config[name], name, CONFIG_KEYS[name]);
  }
  if (config.relay?.retryBackoff !== undefined) checkSection(config.relay.retryBackoff, 'relay.retryBackoff', CONFIG_KEYS['relay.retryBackoff']);
  validateBrokerShape(config.broker);
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
  checkConsumer(c);
  checkQueueHeaders(c.consumer.queueHeaders);
  checkQueueType(c.consumer);
  checkDatabase(c);
}

function validateTables(tables: OutboxConfig['tables']): void {
  if (tables === undefined) return;
  checkSection(tables, 'tables', CONFIG_KEYS.tables);
  const names = new Map<string, string>();
  for (const [key, name] of Object.entries(tables)) {
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

/**
 * The parts of `broker` whose shape resolution would lose: a single `{ host, port }` instead of a list has
 * no length and would quietly become the default host; `tls: 'yes'` would reach the socket as it is.
 */
function validateBrokerShape(broker: OutboxConfig['broker']): void {
  if (broker?.hosts !== undefined) {
    if (!Array.isArray(broker.hosts)) badHosts();
    broker.hosts.forEach((host, i) => {
      if (host !== null && typeof host === 'object') checkKeys(host, CONFIG_KEYS['broker.hosts[]'], `broker.hosts[${i}]`);
    });
  }
  const tls = broker?.tls;
  if (tls === undefined || typeof tls === 'boolean') return;
  checkSection(tls, 'broker.tls', CONFIG_KEYS['broker.tls'], 'true, false or ');
}

/** A section is a plain object of its own keys; `null` or a list is a mistake, not a way to ask for the defaults. */
function checkSection(value: unknown, path: string, allowed: readonly string[], alternatives = ''): asserts value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(path, `must be ${alternatives}{ ${allowed.map((k) => `${k}?`).join(', ')} }`);
  }
  checkKeys(value, allowed, path);
}

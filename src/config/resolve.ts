import { parseBrokerUrl } from './broker-url.js';
import { defaults, resolveTables } from './defaults.js';
import { validateConfig, validateResolved } from './validate.js';
import type { ResolvedConfig } from './resolved.js';
import type { OutboxConfig } from './types.js';

// Declared in resolved.ts so validation can name them without a cycle; importers keep using this module.
export type { ResolvedBroker, ResolvedConfig } from './resolved.js';

/**
 * Applies defaults and the environment to a user config. Pure apart from reading `env`.
 * `DATABASE_URL` and `OUTBOX_BROKER_URL` override the file (deployments set them per environment).
 * This is where a config is validated, once: as written (`validateConfig`: shapes, unknown keys, models),
 * then as resolved (`validateResolved`: every setting's value). Throws `E_CONFIG` naming the key (and model)
 * of the first mistake.
 */
export function resolveConfig(config: OutboxConfig = {}, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  validateConfig(config);
  const brokerFromEnv = env.OUTBOX_BROKER_URL ? parseBrokerUrl(env.OUTBOX_BROKER_URL) : {};
  const broker = { ...config.broker, ...brokerFromEnv };
  // With OUTBOX_BROKER_URL its scheme decides TLS on or off; the file's TLS options (CA, client
  // certificate) still apply when the URL is stomp+ssl://.
  const fileTls = typeof config.broker?.tls === 'object' ? config.broker.tls : {};
  const tls = env.OUTBOX_BROKER_URL
    ? brokerFromEnv.tls ? fileTls : false
    : broker.tls === true ? {} : broker.tls || defaults.broker.tls;
  const url = env.DATABASE_URL || config.database?.url;

  const resolved: ResolvedConfig = {
    out: config.out ?? defaults.out,
    tables: resolveTables(config.tables),
    models: config.models ?? { ...defaults.models },
    headers: config.headers,
    broker: {
      hosts: broker.hosts?.length ? broker.hosts : [...defaults.broker.hosts],
      vhost: broker.vhost ?? defaults.broker.vhost,
      login: broker.login ?? defaults.broker.login,
      passcode: broker.passcode ?? defaults.broker.passcode,
      heartbeat: broker.heartbeat ?? [...defaults.broker.heartbeat],
      tls,
      maxBackoff: broker.maxBackoff ?? defaults.broker.maxBackoff,
      connectTimeout: broker.connectTimeout ?? defaults.broker.connectTimeout,
      receiptTimeout: broker.receiptTimeout ?? defaults.broker.receiptTimeout,
      onFrame: broker.onFrame,
      ...(broker.flavor !== undefined ? { flavor: broker.flavor } : {}),
    },
    database: {
      ...(url ? { url } : { pglite: config.database?.pglite ?? defaults.database.pglite }),
      maxBackoff: config.database?.maxBackoff ?? defaults.database.maxBackoff,
    },
    relay: {
      ...defaults.relay,
      ...config.relay,
      retryBackoff: { ...defaults.relay.retryBackoff, ...config.relay?.retryBackoff },
    },
    consumer: { ...defaults.consumer, ...config.consumer },
    retention: { ...defaults.retention, ...config.retention },
  };
  validateResolved(resolved);
  return resolved;
}

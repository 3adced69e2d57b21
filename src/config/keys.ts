/**
 * The keys each part of a config may have, and the check that names an unknown one. A misspelt key would
 * otherwise be ignored in silence and its default used (`relay.batchsize: 50` relaying 200 at a time).
 */
import { fail } from './problem.js';
import type {
  BrokerConfig, BrokerHost, BrokerTls, ConsumerConfig, DatabaseConfig, OutboxConfig, RelayConfig, RetentionConfig, TableNames,
} from './types.js';

// `satisfies Record<keyof T, 1>` makes the compiler fail here when a key is added to or removed from a type
// without this list following: the lists cannot drift from types.ts.
const keys = (table: Record<string, 1>): readonly string[] => Object.keys(table);

export const CONFIG_KEYS = {
  config: keys({ out: 1, tables: 1, models: 1, headers: 1, broker: 1, database: 1, relay: 1, consumer: 1, retention: 1 } satisfies Record<keyof OutboxConfig, 1>),
  tables: keys({ published: 1, received: 1, maintenance: 1, idle: 1, relays: 1 } satisfies Record<keyof TableNames, 1>),
  broker: keys({
    hosts: 1, vhost: 1, login: 1, passcode: 1, heartbeat: 1, tls: 1, maxBackoff: 1, connectTimeout: 1, receiptTimeout: 1, onFrame: 1, flavor: 1,
  } satisfies Record<keyof BrokerConfig, 1>),
  'broker.hosts[]': keys({ host: 1, port: 1 } satisfies Record<keyof BrokerHost, 1>),
  'broker.tls': keys({
    ca: 1, cert: 1, key: 1, passphrase: 1, servername: 1, minVersion: 1, checkServerIdentity: 1, rejectUnauthorized: 1,
  } satisfies Record<keyof BrokerTls, 1>),
  database: keys({ url: 1, pglite: 1, maxBackoff: 1 } satisfies Record<keyof DatabaseConfig, 1>),
  relay: keys({
    batchSize: 1, pollInterval: 1, maxAttempts: 1, retryBackoff: 1, leaseTimeout: 1, window: 1, shutdownTimeout: 1, progressInterval: 1,
  } satisfies Record<keyof RelayConfig, 1>),
  'relay.retryBackoff': keys({ base: 1, max: 1 } satisfies Record<keyof RelayConfig['retryBackoff'], 1>),
  consumer: keys({
    prefetchCount: 1, exclusive: 1, queueHeaders: 1, concurrency: 1, shutdownTimeout: 1, handlerTimeout: 1,
  } satisfies Record<keyof ConsumerConfig, 1>),
  retention: keys({ days: 1, interval: 1, batchSize: 1 } satisfies Record<keyof RetentionConfig, 1>),
} as const;

/**
 * Fails on the first key of `value` not in `allowed`, at `path.key` (the top level has no prefix), suggesting
 * the allowed key it is closest to, if one is close; otherwise listing them all.
 */
export function checkKeys(value: object, allowed: readonly string[], path?: string): void {
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = closest(key, allowed);
    fail(path ? `${path}.${key}` : key, near ? `unknown key (did you mean ${near}?)` : `unknown key (expected ${allowed.join(', ')})`);
  }
}

/**
 * The allowed key nearest to `key`, ignoring case, if it is within a typo of it: one edit for short keys,
 * up to a third of the length for longer ones (`pollIntervall`, `modles`, `batchsize`).
 */
export function closest(key: string, allowed: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus swapping two neighbours as one edit (`modles`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

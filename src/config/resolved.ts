/**
 * The shape `resolveConfig` returns. Its own module because validate.ts checks resolved values and resolve.ts
 * calls validate.ts: declared in resolve.ts, the types would make an import cycle.
 */
import type { BrokerConfig, BrokerHost, BrokerTls, ConsumerConfig, ModelsConfig, OutboxConfig, RelayConfig, RetentionConfig, TableNames } from './types.js';

/** A broker config with every default filled in. */
export interface ResolvedBroker {
  /** Never empty: a missing or empty list resolves to the default host (connect() relies on it). */
  hosts: BrokerHost[];
  vhost: string;
  login: string;
  passcode: string;
  heartbeat: [number, number];
  tls: BrokerTls | false;
  maxBackoff: number;
  connectTimeout: number;
  receiptTimeout: number;
  onFrame?: BrokerConfig['onFrame'];
  /** Set only when the config names it; else each connection's CONNECTED frame says. */
  flavor?: BrokerConfig['flavor'];
}

/** The config every runtime component takes: all defaults applied, environment read, once. */
export interface ResolvedConfig {
  out: string;
  tables: TableNames;
  models: ModelsConfig;
  headers?: OutboxConfig['headers'];
  broker: ResolvedBroker;
  database: ({ url: string } | { pglite: string }) & { maxBackoff: number };
  relay: RelayConfig;
  consumer: ConsumerConfig;
  retention: RetentionConfig;
}

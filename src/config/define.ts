import type { PgTable } from 'drizzle-orm/pg-core';
import type { ModelConfig, OutboxConfig } from './types.js';

/** The `models` of a config whose tables are `T`: each model's `fields` and `serializer` see its own row type. */
export type ModelsOf<T extends Record<string, PgTable>> = { [K in keyof T]: ModelConfig<T[K]> };

/**
 * Types an `outbox.config.ts`. It returns its argument unchanged; its job is inference: each model's
 * table type is inferred from `table`, so `fields` are checked against that table's columns and a
 * `serializer`'s parameter is that table's row. The generated helpers read the table types back from it,
 * so keep the default export typed by `defineConfig` (not annotated as a plain `OutboxConfig`).
 * The config is validated (`E_CONFIG`) when a command loads it, not here.
 *
 * @example
 * export default defineConfig({
 *   models: {
 *     order: {
 *       table: orders,
 *       publish: [
 *         { destination: '/topic/orders' },
 *         { destination: '/topic/orders-slim', fields: ['status'], version: 'v1' },
 *         { destination: '/topic/orders-billing', serializer: (o) => ({ orderId: o.id, cents: Math.round(Number(o.total) * 100) }) },
 *       ],
 *     },
 *   },
 * });
 */
export function defineConfig<T extends Record<string, PgTable> = {}>(config: OutboxConfig<ModelsOf<T>>): OutboxConfig<ModelsOf<T>> {
  return config;
}

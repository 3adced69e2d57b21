import type { ModelsConfig, OutboxConfig } from './types.js';

/**
 * Types an `outbox.config.ts`. It returns its argument unchanged; its job is inference, so that
 * `fields` and `serializer` are checked against each model's own table.
 *
 * @example
 * export default defineConfig({
 *   models: { order: { table: orders, publish: [{ destination: '/topic/orders' }] } },
 * });
 */
export function defineConfig<const M extends ModelsConfig>(config: OutboxConfig<M>): OutboxConfig<M> {
  return config;
}

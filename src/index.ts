// The public API: this file only re-exports.
export { defineConfig } from './config/define.js';
export type * from './config/types.js';
export { resolveConfig, type ResolvedConfig } from './config/resolve.js';
export { OutboxError, isOutboxError, type OutboxErrorCode } from './errors.js';
export type { Logger } from './log/logger.js';
export { createOutboxTables, outboxPublished, outboxReceived, outboxMaintenance, type OutboxStatus } from './db/tables.js';
export { migrate } from './db/migrate.js';
export type { OutboxDb, OutboxTx } from './db/types.js';
export { withCorrelationId, currentCorrelationId } from './publish/correlation.js';

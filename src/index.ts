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
export { publish, type PublishMessage } from './publish/publish.js';
export { insertWithOutbox, updateWithOutbox, type ModelTarget } from './publish/model.js';
export { writeOutbox, type OutboxDraft, type OutboxTarget } from './publish/write.js';
export { toJsonBody } from './publish/body.js';
export type { HeadersHook } from './publish/headers.js';
export type { ModelsOf } from './config/define.js';
export { validateConfig } from './config/validate.js';
export { createConsumer } from './consumer/consumer.js';
export type { Payload, Handler, ConsumerOptions, Consumer, ConsumerStats, Outcome } from './consumer/types.js';

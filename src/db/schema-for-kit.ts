// What drizzle-kit sees when it generates the library's own migrations in `drizzle/`.
export { outboxMaintenance, outboxPublished, outboxPublishedIdle, outboxPublishedKeys, outboxPublishedRelays, outboxReceived } from './tables.js';

import { defineCommand } from 'citty';
import { sql } from 'drizzle-orm';
import { createConsumer } from '../consumer/consumer.js';
import { handlerForm } from '../consumer/handler-form.js';
import { loadHandler } from '../consumer/handler-module.js';
import { consumeTargetProblem } from '../consumer/subscription.js';
import { driverOf } from '../db/driver.js';
import { explainDbError, isSchemaMissing, isSetupError } from '../db/errors.js';
import { openDatabase } from '../db/open.js';
import { OutboxError } from '../errors.js';
import { defaultLogger } from '../log/logger.js';
import { within } from '../util/within.js';
import { commandConfig, commonArgs } from './common.js';
import { shutdownSignal } from './shutdown.js';
import { applyLogFormat, startProbes, telemetryArgs } from './telemetry.js';

/** How long closing the database may take once the consumer is done: a hung handler may hold a connection. */
const CLOSE_DATABASE_MS = 5_000;

/**
 * `outbox consume <handler> <destination> [queue]`: runs one consumer until SIGTERM/SIGINT/SIGQUIT,
 * then drains in-flight handlers (consumer.shutdownTimeout) and exits 0; a second signal exits at once.
 * When the consumer cannot go on (every handler slot hung, the inbox table gone) it exits 1, for a
 * supervisor to restart it.
 */
export default defineCommand({
  meta: {
    name: 'consume',
    description: 'Consume a destination into the idempotent inbox, running a handler per message',
  },
  args: {
    handler: {
      type: 'positional',
      required: true,
      description: 'path/to/module.ts#exportName (the default export without #); a handler (payload, { tx }) runs in the transaction the consumer opens',
    },
    destination: { type: 'positional', required: true, description: 'e.g. /topic/orders' },
    queue: { type: 'positional', required: false, description: "queue name (default: the destination's last segment)" },
    ...commonArgs,
    ...telemetryArgs,
  },
  async run({ args }) {
    // Before loading anything: the broker would refuse it at every SUBSCRIBE, and the consumer reconnect forever.
    const target = consumeTargetProblem(args.destination, args.queue);
    if (target) throw new OutboxError('E_USAGE', `consume: ${target}`);
    applyLogFormat(args);
    const { config } = await commandConfig(args);
    const loaded = await loadHandler(args.handler);
    const logger = defaultLogger('consumer');
    const form = handlerForm(loaded.handler);
    if (form === 'consumer' && loaded.db && driverOf(loaded.db) === 'postgres-js') {
      logger.warn(
        `${loaded.name} exports a postgres.js db, so the transactions the consumer opens for it run there; postgres.js ` +
          '3.4 can end the process when PostgreSQL restarts. Remove the export to let the consumer open its own connections (node-postgres)',
      );
    }
    // The handler module's own `db`, when it exports one: one pool, and the only safe choice for PGlite
    // (two instances must never open one directory). Each handler holds a connection for its transaction,
    // and may use one of its own beside it; the consumer's reads and retention need one more.
    const opened = loaded.db
      ? undefined
      : await openDatabase(config, { poolSize: Math.max(10, 2 * config.consumer.concurrency + 2), connectTimeout: 10 });
    const shutdown = shutdownSignal(['SIGTERM', 'SIGINT', 'SIGQUIT'], (sig) =>
      logger.info(`${sig}: finishing in-flight messages (send it again to exit at once)`),
    );
    const db = loaded.db ?? opened!.db;
    try {
      await db.execute(sql`select 1`);
    } catch (error) {
      // A database that refuses the consumer (no such database, login refused) is a setup mistake: one line
      // and exit 2 at once, as `outbox relay` does, not an outage to retry for ever. An outage goes on.
      if (isSetupError(error) && !isSchemaMissing(error)) {
        await opened?.close().catch(() => {});
        shutdown.dispose();
        throw new OutboxError('E_CONFIG', `the database refused the consumer: ${explainDbError(error).message}`, { cause: error });
      }
    }
    const probes = await startProbes(args, { db, logger }).catch(async (error: unknown) => {
      await opened?.close().catch(() => {});
      shutdown.dispose();
      throw error;
    });
    const consumer = createConsumer({
      db,
      config,
      handler: loaded.handler,
      destination: args.destination,
      queue: args.queue,
      logger,
    });
    const owner = form === 'consumer' ? 'the consumer opens its transactions' : 'it opens its own transactions';
    logger.info(`handler ${loaded.name} (${owner}); database ${opened ? opened.where : 'from the handler module'}`);
    try {
      probes.running();
      await consumer.run(shutdown.signal);
    } finally {
      await probes.stopped();
      if (opened) await within(opened.close().catch(() => {}), { ms: CLOSE_DATABASE_MS });
      shutdown.dispose();
    }
    // The handler module may hold its own pools and timers open: a finished consumer is a finished process.
    process.exit(0);
  },
});

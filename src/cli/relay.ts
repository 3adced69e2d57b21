import { defineCommand } from 'citty';
import { openDatabase } from '../db/open.js';
import { defaultLogger } from '../log/logger.js';
import { createRelay } from '../relay/relay.js';
import { commandConfig, commonArgs } from './common.js';
import { shutdownSignal } from './shutdown.js';
import { applyLogFormat, startProbes, telemetryArgs } from './telemetry.js';

/**
 * `outbox relay`: moves committed outbox rows to the broker until SIGTERM/SIGINT, then drains (waits up to
 * relay.shutdownTimeout for in-flight receipts, marks them, disconnects) and exits 0. A second signal exits
 * at once. Broker and database outages are waited out with backoff, never a reason to exit.
 */
export default defineCommand({
  meta: { name: 'relay', description: 'Send committed outbox rows to the broker (confirmed by receipt) until SIGTERM/SIGINT' },
  args: {
    ...commonArgs,
    ...telemetryArgs,
    wait: {
      type: 'boolean',
      description: 'At start-up, wait for a database or broker that refuses the relay (missing database, refused login) instead of exiting 2',
    },
  },
  async run({ args }) {
    applyLogFormat(args);
    const { config } = await commandConfig(args);
    const logger = defaultLogger('relay');
    const database = await openDatabase(config);
    const probes = await startProbes(args, { db: database.db, logger }).catch(async (error: unknown) => {
      await database.close().catch(() => {});
      throw error;
    });
    const shutdown = shutdownSignal(['SIGTERM', 'SIGINT'], (sig) =>
      logger.info(`${sig}: finishing in-flight sends (send it again to exit at once)`),
    );
    logger.info(`database ${database.where}`);
    try {
      const relay = createRelay({ db: database.db, config, logger, wait: args.wait });
      probes.running();
      await relay.run(shutdown.signal);
    } finally {
      await probes.stopped();
      await database.close().catch(() => {});
      shutdown.dispose();
    }
    // Everything is drained and closed: a finished relay is a finished process, whatever the config loaded.
    process.exit(0);
  },
});

import { defineCommand } from 'citty';
import { retryFailed } from '../admin/retry.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';

/** `outbox retry [--destination D]`: re-queue failed rows so the relays send them again. */
export default defineCommand({
  meta: {
    name: 'retry',
    description: 'Re-queue failed outbox rows (pending, attempts reset, due now) and wake the relays',
  },
  args: {
    ...commonArgs,
    destination: { type: 'string', description: 'Only rows to this destination, e.g. /queue/billing' },
  },
  async run({ args }) {
    const { config } = await commandConfig(args);
    await withDatabase(config, async (database) => {
      const count = await retryFailed(database.db, config.tables, { destination: args.destination });
      const scope = args.destination ? ` to ${args.destination}` : '';
      process.stdout.write(
        count
          ? `outbox: re-queued ${count.toLocaleString('en-US')} failed row(s)${scope}; running relays will send them now\n`
          : `outbox: no failed rows${scope}\n`,
      );
    });
  },
});

import { defineCommand } from 'citty';
import { retryFailed } from '../admin/retry.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';
import { positiveInteger, rowIds, since } from './options.js';

/** `outbox retry [--destination D] [--id ID] [--since T] [--limit N]`: re-queue failed rows so the relays send them again. */
export default defineCommand({
  meta: {
    name: 'retry',
    description: 'Re-queue failed outbox rows (pending, attempts reset, due now) in batches of 1,000, and wake the relays',
  },
  args: {
    ...commonArgs,
    destination: { type: 'string', description: 'Only rows to this destination, e.g. /queue/billing' },
    id: { type: 'string', description: 'Only this row (its id, the dop-msg-id); repeat or separate with commas for several' },
    since: { type: 'string', description: 'Only rows written since: a duration (30m, 2h, 1d) or an ISO-8601 time' },
    limit: { type: 'string', description: 'At most this many rows' },
  },
  async run({ args }) {
    const options = {
      destination: args.destination,
      ids: rowIds(args.id as string | string[] | undefined),
      since: since(args.since),
      limit: positiveInteger('limit', args.limit),
    };
    const { config } = await commandConfig(args);
    await withDatabase(config, async (database) => {
      let batches = 0;
      const count = await retryFailed(database.db, config.tables, { ...options, onBatch: () => batches++ });
      const scope = `${args.destination ? ` to ${args.destination}` : ''}${options.ids ? ` with the id(s) given` : ''}${args.since ? ` written since ${args.since}` : ''}`;
      process.stdout.write(
        count
          ? `outbox: re-queued ${count.toLocaleString('en-US')} failed row(s)${scope} in ${batches} batch(es); running relays will send them now\n`
          : `outbox: no failed rows${scope}\n`,
      );
    });
  },
});

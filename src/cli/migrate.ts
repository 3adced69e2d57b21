import { defineCommand } from 'citty';
import { migrate } from '../db/migrate.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';

/** `outbox migrate`: applies the library's own migrations and says which (or that there were none to apply). */
export default defineCommand({
  meta: { name: 'migrate', description: "Apply the library's own migrations (idempotent; own migrations table __outbox_migrations)" },
  args: { ...commonArgs },
  async run({ args }) {
    const { config } = await commandConfig(args);
    await withDatabase(config, async (database) => {
      const { applied } = await migrate(database.db, config.tables);
      process.stdout.write(
        applied.length
          ? `outbox: applied ${applied.join(', ')} to ${database.where}\n`
          : `outbox: ${database.where} is already up to date\n`,
      );
    });
  },
});

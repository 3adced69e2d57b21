import { defineCommand } from 'citty';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import { commandConfig, commonArgs } from './common.js';

export default defineCommand({
  meta: { name: 'migrate', description: "Apply the library's own migrations (idempotent; own migrations table __outbox_migrations)" },
  args: { ...commonArgs },
  async run({ args }) {
    const { config } = await commandConfig(args);
    const database = await openDatabase(config);
    try {
      await migrate(database.db, config.tables);
      process.stdout.write(`outbox: migrations applied to ${database.where}\n`);
    } finally {
      await database.close();
    }
  },
});

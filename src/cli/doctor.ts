import { defineCommand } from 'citty';
import { checkBroker, checkDatabase, checkRouting, configuredDestinations, type Check } from '../admin/doctor.js';
import { loadConfig } from '../config/load.js';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import { explainDbError } from '../db/errors.js';
import { openDatabase } from '../db/open.js';
import { commonArgs } from './common.js';

/**
 * `outbox doctor [--json]`: checks the config, the database, the broker and the routing of the configured
 * destinations, and explains each failure. Exit 0 when nothing failed (warnings and checks it could not
 * make are listed), 1 with the failing checks named.
 */
export default defineCommand({
  meta: { name: 'doctor', description: 'Check config, database (migrations, indexes, trigger, clock), broker (login, a confirmed SEND) and topic bindings' },
  args: {
    ...commonArgs,
    json: { type: 'boolean', description: 'Print one JSON object ({ ok, checks }) instead' },
  },
  async run({ args }) {
    const checks: Check[] = [];
    let config: ResolvedConfig | undefined;
    try {
      const loaded = await loadConfig(args.config);
      config = resolveConfig(loaded.config);
      const models = Object.keys(config.models).length;
      checks.push({ name: 'config', status: 'ok', detail: `${loaded.path} loads and validates (${models} model(s), ${configuredDestinations(config).length} destination(s))` });
    } catch (error) {
      checks.push({ name: 'config', status: 'fail', detail: (error as Error).message });
    }
    if (config) {
      let database;
      try {
        database = await openDatabase(config, { connectTimeout: 10 });
        checks.push(...(await checkDatabase(database.db, config, database.where)));
      } catch (error) {
        checks.push({ name: 'database', status: 'fail', detail: explainDbError(error).message });
      } finally {
        await database?.close().catch(() => {});
      }
      checks.push(...(await checkBroker(config)));
      checks.push(...(await checkRouting(config)));
    }
    const failed = checks.filter((c) => c.status === 'fail');
    if (args.json) process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
    else process.stdout.write(render(checks));
    if (failed.length) process.exitCode = 1;
  },
});

function render(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `  ${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
  const failed = checks.filter((c) => c.status === 'fail');
  const warned = checks.filter((c) => c.status === 'warn').length;
  lines.push(
    '',
    failed.length
      ? `${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`
      : `all checks passed${warned ? ` (${warned} warning(s))` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

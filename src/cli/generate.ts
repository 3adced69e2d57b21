import { relative } from 'node:path';
import { defineCommand } from 'citty';
import { writeGenerated } from '../../codegen/write.js';
import { importModule, loadConfig } from '../config/load.js';
import { importOptional } from '../util/optional.js';
import { commonArgs } from './common.js';

/**
 * `outbox generate`: writes schema.ts, index.ts and outbox-trigger.sql into the config's `out` directory
 * (relative to the config file). A config mistake is one `E_CONFIG` line (exit 2) and writes nothing.
 */
export default defineCommand({
  meta: { name: 'generate', description: 'Write the outbox schema, typed helpers and body types from outbox.config.ts' },
  args: { ...commonArgs },
  async run({ args }) {
    // The type checker (ts-morph, an optional peer dependency: development only) loads with the generator.
    const { generate } = await importOptional('ts-morph', 'outbox generate', () => import('../../codegen/generate.js'));
    const { path, config } = await loadConfig(args.config);
    const module = await importModule(path);
    const { files, warnings } = generate({ configPath: path, config, configExport: 'default' in module ? 'default' : 'config' });
    for (const warning of warnings) process.stderr.write(`outbox: warning: ${warning}\n`);
    const report = await writeGenerated(files);
    const show = (p: string) => relative(process.cwd(), p) || p;
    for (const p of report.written) process.stdout.write(`wrote ${show(p)}\n`);
    for (const p of report.unchanged) process.stdout.write(`unchanged ${show(p)}\n`);
  },
});

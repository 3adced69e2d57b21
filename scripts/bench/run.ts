/**
 * `npm run bench`: runs every `scripts/bench/*.bench.ts` in its own process, one after another (they
 * share the machine, the database and the broker). Each prints one JSON line per figure, with the
 * ceiling it is compared to measured in the same run. `npm run bench -- stomp` runs only matching files.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'scripts/bench';
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    failed++;
    console.log(JSON.stringify({ bench: file, error: `exited with ${r.status ?? r.signal}` }));
  }
}
process.exit(failed ? 1 : 0);

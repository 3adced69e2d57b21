/**
 * The drizzle-orm peer range, tried (`npm run test:peers`; not part of `npm test`: each version is an
 * install from the registry). For each version in PEER_MATRIX, a fresh project installs the packed
 * tarball with that drizzle-orm and runs what touches drizzle: `outbox generate` (then tsc over the
 * generated schema and helpers), `outbox migrate`, a transaction writing a business row with
 * `insertWithOutbox` and an event with `publish()` (drizzle over postgres.js, the user's driver), `outbox
 * consume` saving into the inbox, `outbox relay` sending, `outbox status`. One line per version.
 *
 *   npm run test:peers                 # every version in PEER_MATRIX
 *   npm run test:peers -- 0.36.4       # the versions given
 *   PEERS_OUTSIDE_RANGE=1 npm run test:peers -- 0.35.3   # a version the peer range excludes (--legacy-peer-deps)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase } from '../helpers/db.js';
import { PEER_MATRIX } from './peer-matrix.js';
import { installTarball, packTarball, run, startBin } from './support.js';

const versions = process.argv.slice(2).length ? process.argv.slice(2) : PEER_MATRIX.map((p) => p.version);
const work = mkdtempSync(join(tmpdir(), 'outbox-peers-'));
const tarball = packTarball(process.cwd(), work);
let failures = 0;

for (const version of versions) {
  const started = Date.now();
  const app = join(work, `drizzle-${version}`);
  mkdirSync(app);
  const key = uniqueName('peers');
  const t = await createTestDatabase({ migrate: false });
  const steps: string[] = [];
  const step = (name: string, r: { code: number | null; output: string }) => {
    steps.push(name);
    if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${r.output}`);
  };
  try {
    const flags = process.env.PEERS_OUTSIDE_RANGE === '1' ? ['--legacy-peer-deps'] : [];
    const install = installTarball(app, tarball, [`drizzle-orm@${version}`, 'postgres@3.4.9', 'ts-morph@28.0.0', 'typescript@5.9.3'], 180_000, flags);
    step('install', install);
    writeFileSync(
      join(app, 'schema.mjs'),
      `import { numeric, pgTable, serial, text } from 'drizzle-orm/pg-core';
export const orders = pgTable('orders', { id: serial('id').primaryKey(), status: text('status').notNull().default('new'), total: numeric('total', { precision: 12, scale: 2 }).notNull() });
`,
    );
    writeFileSync(
      join(app, 'outbox.config.mjs'),
      `import { defineConfig } from 'drizzle-outbox';
import { orders } from './schema.mjs';
export default defineConfig({ models: { order: { table: orders, publish: [{ destination: '/topic/${key}' }] } } });
`,
    );
    const env = { DATABASE_URL: t.url };
    step('generate', run('node_modules/.bin/outbox', ['generate'], { cwd: app }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, allowJs: true }, include: ['outbox/schema.ts'] }));
    step('tsc over the generated schema', run('node_modules/.bin/tsc', ['-p', '.'], { cwd: app }));
    step('migrate', run('node_modules/.bin/outbox', ['migrate'], { cwd: app, env }));
    await t.sql`create table orders (id serial primary key, status text not null default 'new', total numeric(12,2) not null)`;
    writeFileSync(
      join(app, 'write.mjs'),
      `import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { insertWithOutbox, publish } from 'drizzle-outbox';
import config from './outbox.config.mjs';
const client = postgres(process.env.DATABASE_URL);
const db = drizzle({ client });
await db.transaction(async (tx) => {
  await insertWithOutbox(tx, config.models.order, { total: '12.50' }, { name: 'order' });
  await publish(tx, { destination: '/topic/${key}', body: { hello: 'world' } });
});
await client.end();
`,
    );
    step('write in a transaction', run(process.execPath, ['write.mjs'], { cwd: app, env }));
    writeFileSync(
      join(app, 'handler.mjs'),
      `import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
export const db = drizzle({ client: postgres(process.env.DATABASE_URL) });
export async function onOrder(payload) { await db.transaction((tx) => payload.save(tx)); }
`,
    );
    const consumer = startBin(app, ['consume', 'handler.mjs#onOrder', `/topic/${key}`], env);
    try {
      await waitFor(() => /subscribed|consuming/i.test(consumer.output()), 30_000, 100).catch(() => {});
      const relay = startBin(app, ['relay'], env);
      try {
        await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_received`)[0]!.n === 2, 30_000, 100).catch((e: Error) => {
          throw new Error(`${e.message}\n${consumer.output()}\n${relay.output()}`);
        });
        steps.push('relay → consume → inbox');
      } finally {
        relay.child.kill('SIGTERM');
        await relay.exited;
      }
    } finally {
      consumer.child.kill('SIGTERM');
      await consumer.exited;
    }
    const status = run('node_modules/.bin/outbox', ['status', '--json'], { cwd: app, env });
    step('status', status);
    const totals = JSON.parse(status.stdout).totals;
    if (totals.sent !== 2) throw new Error(`status says ${JSON.stringify(totals)}`);
    console.log(JSON.stringify({ 'drizzle-orm': version, ok: true, steps, seconds: Math.round((Date.now() - started) / 1000) }));
  } catch (error) {
    failures++;
    console.log(JSON.stringify({ 'drizzle-orm': version, ok: false, steps, error: String((error as Error).message).slice(0, 2000) }));
  } finally {
    deleteQueue(key);
    deleteQueue(`DLQ.${key}`);
    await t.drop();
  }
}
rmSync(work, { recursive: true, force: true });
console.log(`${versions.length - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);

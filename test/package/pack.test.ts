/**
 * The published package works for a user: `npm pack` → a fresh project installs the tarball → the README's
 * quick start, step by step, with the commands a user types (`npx outbox …`, `npx tsx app.ts`).
 *
 * Uses `dist/` as built by `npm test`. The install uses npm's cache (warm after `npm ci`; `--prefer-offline`
 * still reaches the registry for anything missing) and takes a few seconds.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { readQueue } from '../relay/support.js';
import { run, startNpx, terminateOutbox, type RunOptions, type Started } from './support.js';

const ROOT = process.cwd();
const work = mkdtempSync(join(tmpdir(), 'outbox-pack-test-'));
const app = join(work, 'app');
// Unique routing keys: the broker is shared with other test files and earlier runs.
const key = uniqueName('pack-orders');
const dest = { full: `/topic/${key}`, slim: `/topic/${key}-slim.v1`, billing: `/topic/${key}-billing` };
// The queue names are the routing keys (outbox consume's default: the destination's last segment).
const queueOf = (destination: string) => destination.slice('/topic/'.length);
const config = resolveConfig({}, {}); // the broker defaults: 127.0.0.1:61613, guest
const broker = config.broker;

let t: TestDatabase;
const children: ChildProcess[] = [];

/** A command run to completion in the user's project (or `cwd`). */
const sh = (command: string, args: string[], options: Omit<RunOptions, 'cwd'> & { cwd?: string } = {}) => run(command, args, { cwd: app, ...options });

/** A long-running `npx …` in the user's project, ended by test.after if it is still running. */
function start(args: string[], env: Record<string, string>): Started {
  const started = startNpx(app, args, env);
  children.push(started.child);
  return started;
}

/** A routing key bound to a queue on amq.topic (what a relayed /topic/ message needs to be kept). */
const bound = (queue: string) =>
  rabbitmqctl('list_bindings', 'source_name', 'routing_key', 'destination_name', '--no-table-headers')
    .split('\n')
    .some((line) => line.trim().split(/\s+/).join(' ') === `amq.topic ${queue} ${queue}`);

test.before(async () => {
  t = await createTestDatabase({ migrate: false });
});

test.after(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const d of Object.values(dest)) {
    deleteQueue(queueOf(d));
    deleteQueue(`DLQ.${queueOf(d)}`);
  }
  await t?.drop();
  rmSync(work, { recursive: true, force: true });
});

test('npm pack, then a fresh project installs the tarball with its peer and tsx', () => {
  assert.ok(existsSync(join(ROOT, 'dist/src/index.js')), 'dist/ is built (npm test builds it; else npm run build)');
  const pack = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: ROOT });
  assert.is(pack.code, 0, pack.output);
  const tarball = pack.stdout.trim().split('\n').pop()!;
  assert.match(tarball, /^drizzle-outbox-\d+\.\d+\.\d+\.tgz$/);

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
  // The quick start's `npm install drizzle-outbox drizzle-orm postgres` + `npm install -D tsx typescript`
  // (and @types/node, for `process` in app.ts), at the versions this repository is tested with: npm's cache
  // has them after `npm ci`.
  const ours = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const versions: Record<string, string> = { ...ours.dependencies, ...ours.devDependencies, ...ours.peerDependencies };
  const packages = ['drizzle-orm', 'postgres', 'tsx', 'typescript', '@types/node'].map((name) => `${name}@${versions[name]}`);
  const started = Date.now();
  const install = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball), ...packages], { timeout: 100_000 });
  assert.is(install.code, 0, install.output);
  console.log(`   npm install: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(existsSync(join(app, 'node_modules/.bin/outbox')), 'the outbox binary is linked');
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/drizzle-outbox/package.json'), 'utf8'));
  assert.ok(!existsSync(join(app, 'node_modules/drizzle-outbox/test')), 'tests are not published');
  assert.ok(existsSync(join(app, 'node_modules/drizzle-outbox/drizzle')), 'the migrations are published');
  assert.is(installed.name, 'drizzle-outbox');
});

test('the public interface resolves from plain Node and from TypeScript', () => {
  writeFileSync(
    join(app, 'exports.mjs'),
    `import { defineConfig, publish, withCorrelationId, createProducer, createRelay, createConsumer, OutboxError } from 'drizzle-outbox';
const names = { defineConfig, publish, withCorrelationId, createProducer, createRelay, createConsumer, OutboxError };
const error = new OutboxError('E_CONFIG', 'x');
console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(names).map(([k, v]) => [k, typeof v])), code: error.code, isError: error instanceof Error }));
`,
  );
  const r = sh(process.execPath, ['exports.mjs']);
  assert.is(r.code, 0, r.output);
  assert.equal(JSON.parse(r.stdout), {
    defineConfig: 'function', publish: 'function', withCorrelationId: 'function', createProducer: 'function',
    createRelay: 'function', createConsumer: 'function', OutboxError: 'function', code: 'E_CONFIG', isError: true,
  });
});

test('a missing config: exit code 2 and one line saying what to do', () => {
  const r = sh('npx', ['outbox', 'generate']);
  assert.is(r.code, 2, r.output);
  const lines = r.output.trim().split('\n');
  assert.is(lines.length, 1, r.output);
  assert.match(lines[0]!, /^outbox: no outbox\.config\.ts here .*create one or pass --config/);
});

test('quick start: schema + outbox.config.ts, outbox --help, generate, migrate, an app commits an order with its events', async () => {
  writeFileSync(
    join(app, 'schema.ts'),
    `import { integer, numeric, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';

export const orders = pgTable('orders', {
  id: serial('id').primaryKey(),
  status: text('status').notNull().default('new'),
  total: numeric('total', { precision: 12, scale: 2 }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const invoices = pgTable('invoices', {
  id: serial('id').primaryKey(),
  orderId: integer('order_id').notNull(),
  cents: integer('cents').notNull(),
});
`,
  );
  writeFileSync(
    join(app, 'outbox.config.ts'),
    `import { defineConfig } from 'drizzle-outbox';
import { orders } from './schema.js';

export default defineConfig({
  models: {
    order: {
      table: orders,
      publish: [
        { destination: '/topic/${key}' },
        { destination: '/topic/${key}-slim', fields: ['status'], version: 'v1' },
        { destination: '/topic/${key}-billing', serializer: (o) => ({ orderId: o.id, cents: Math.round(Number(o.total) * 100) }) },
      ],
    },
  },
  database: { url: 'postgres://postgres@127.0.0.1:5432/app' },
});
`,
  );

  const help = sh('npx', ['outbox', '--help']);
  assert.is(help.code, 0, help.output);
  for (const command of ['generate', 'migrate', 'relay', 'consume', 'status']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));

  const generate = sh('npx', ['outbox', 'generate']);
  assert.is(generate.code, 0, generate.output);
  for (const file of ['schema.ts', 'index.ts', 'outbox-trigger.sql']) {
    assert.match(generate.stdout, new RegExp(`wrote outbox/${file.replace('.', '\\.')}`));
    assert.ok(existsSync(join(app, 'outbox', file)), file);
  }
  assert.match(readFileSync(join(app, 'outbox/index.ts'), 'utf8'), /from 'drizzle-outbox'/, 'the generated helpers import the package');

  const migrate = sh('npx', ['outbox', 'migrate'], { env: { DATABASE_URL: t.url } });
  assert.is(migrate.code, 0, migrate.output);
  const tables = (await t.sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`).map((r) => r.table_name);
  for (const name of ['outbox_maintenance', 'outbox_published', 'outbox_received']) assert.ok(tables.includes(name), `${name} in ${tables}`);
  // The user's own tables, as their drizzle-kit migrations would create them.
  await t.sql`create table orders (id serial primary key, status text not null default 'new', total numeric(12,2) not null,
    created_at timestamptz not null default now())`;
  await t.sql`create table invoices (id serial primary key, order_id integer not null, cents integer not null)`;

  // The quick start's app.ts, plus ending the client (postgres.js keeps idle connections, and the process, alive).
  writeFileSync(
    join(app, 'app.ts'),
    `import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { insertOrderWithOutbox, updateOrderWithOutbox } from './outbox/index.js';
import { orders } from './schema.js';

const client = postgres(process.env.DATABASE_URL!);
const db = drizzle({ client });
const order = await db.transaction((tx) => insertOrderWithOutbox(tx, { total: '12.50' }));
await db.transaction((tx) => updateOrderWithOutbox(tx, eq(orders.id, order.id), { status: 'paid' }));
await client.end();
`,
  );
  const run = sh('npx', ['tsx', 'app.ts'], { env: { DATABASE_URL: t.url } });
  assert.is(run.code, 0, run.output);
  const [order] = await t.sql`select id, status from orders`;
  assert.equal({ ...order }, { id: 1, status: 'paid' });

  const status = sh('npx', ['outbox', 'status', '--json'], { env: { DATABASE_URL: t.url } });
  assert.is(status.code, 0, status.output);
  const report = JSON.parse(status.stdout);
  assert.equal(report.totals, { pending: 6, scheduled: 0, sent: 0, failed: 0 });
  const pending = Object.fromEntries(report.destinations.map((d: { destination: string; pending: number }) => [d.destination, d.pending]));
  // Two writes (insert, update) × one row per publish config.
  assert.equal(pending, { [dest.full]: 2, [dest.slim]: 2, [dest.billing]: 2 });
});

test('the project typechecks against the published types (generated helpers, config, a consumer handler)', () => {
  writeFileSync(
    join(app, 'consumer.ts'),
    `import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Payload } from 'drizzle-outbox';
import type { OutboxBodies } from './outbox/index.js';
import { invoices } from './schema.js';

export const db = drizzle({ client: postgres(process.env.DATABASE_URL!) });

export async function onBilling(payload: Payload<OutboxBodies['${dest.billing}']>) {
  await db.transaction(async (tx) => {
    await tx.insert(invoices).values({ orderId: payload.body.orderId, cents: payload.body.cents });
    await payload.save(tx);
  });
}
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true }, include: ['*.ts', 'outbox'] }),
  );
  const tsc = sh('npx', ['tsc', '-p', '.']);
  assert.is(tsc.code, 0, tsc.output);
});

test('outbox consume (started first, it binds its queue) and outbox relay deliver every event; SIGTERM exits 0', async () => {
  // Queues for the other two destinations, bound before anything is relayed: RabbitMQ confirms and then
  // drops a /topic/ message no queue is bound to.
  const s = await connect({ broker, logger: silentLogger });
  for (const d of [dest.full, dest.slim]) s.subscribe(d, { 'x-queue-name': queueOf(d), durable: 'true', 'auto-delete': 'false' }, () => {}, queueOf(d));
  await s.disconnect();

  const consumer = start(['outbox', 'consume', 'consumer.ts#onBilling', dest.billing], { DATABASE_URL: t.url });
  await waitFor(() => bound(queueOf(dest.billing)), 30_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${consumer.output()}`);
  });

  const relay = start(['outbox', 'relay'], { DATABASE_URL: t.url });
  const rows = await t.sql`select id::text, destination from outbox_published order by seq`;
  for (const d of [dest.full, dest.slim]) {
    const messages = await readQueue(config, queueOf(d), 2, { timeoutMs: 30_000, settleMs: 200 });
    assert.equal(
      messages.map((m) => m.headers['dop-msg-id']).sort(),
      rows.filter((r) => r.destination === d).map((r) => r.id).sort(),
      `${d}: each of its outbox rows arrived once, under its dop-msg-id`,
    );
    const statuses = messages.map((m) => JSON.parse(m.body.toString('utf8')).status).sort();
    assert.equal(statuses, ['new', 'paid']);
  }
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_received`)[0]!.n === 2, 30_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${consumer.output()}\n${relay.output()}`);
  });
  const invoices = await t.sql`select order_id, cents from invoices order by id`;
  assert.equal(invoices.map((r) => [r.order_id, r.cents]), [[1, 1250], [1, 1250]], 'the handler ran once per billing event');
  const received = (await t.sql`select message_id from outbox_received order by 1`).map((r) => r.message_id);
  assert.equal(received, rows.filter((r) => r.destination === dest.billing).map((r) => r.id).sort());

  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where status = 'sent'`)[0]!.n === 6, 15_000, 100);
  terminateOutbox(relay.child);
  assert.is(await relay.exited, 0, relay.output());
  assert.match(relay.output(), /stopped \(6 sent/);
  terminateOutbox(consumer.child);
  assert.is(await consumer.exited, 0, consumer.output());

  const status = sh('npx', ['outbox', 'status', '--json'], { env: { DATABASE_URL: t.url } });
  assert.is(status.code, 0, status.output);
  assert.equal(JSON.parse(status.stdout).totals, { pending: 0, scheduled: 0, sent: 6, failed: 0 });
});

test.run();

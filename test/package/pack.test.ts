// @long: about a minute; started first so the run does not wait on it at the end.
/**
 * The published package works for a newcomer: `npm pack` → a fresh project → the README's Quick start
 * followed word for word (its files as written, its commands in order, as a user types them: `npx outbox …`,
 * `npx tsx app.ts`), until the consumer has received every event. Then the README's drizzle-kit push recipe
 * beside `outbox migrate`.
 *
 * Two deliberate departures, both for isolation on a shared machine: the routing key `orders` becomes a
 * unique one (in files and commands alike), and instead of `createdb … app` every command gets
 * DATABASE_URL pointing at this test's own database — which the Quick start's files honour, as it says.
 *
 * Uses `dist/` as built by `npm test`. Installs use npm's cache (warm after `npm ci`; `--prefer-offline`
 * still reaches the registry for anything missing).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { PEER_MATRIX } from './peer-matrix.js';
import { parseSection, readmeSection } from './quick-start.js';
import { packTarball, run, startNpx, terminateOutbox, type RunOptions, type Started } from './support.js';

const ROOT = process.cwd();
const README = join(ROOT, 'README.md');
const work = mkdtempSync(join(tmpdir(), 'outbox-pack-test-'));
const app = join(work, 'app');
// Unique routing key (and so queue name): the broker is shared with other test files and earlier runs.
const key = uniqueName('pack-orders');
const unique = (text: string) => text.replaceAll('/topic/orders', `/topic/${key}`);
const quickStart = parseSection(readmeSection(README, '## Quick start'));
const ours = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const versions: Record<string, string> = { ...ours.dependencies, ...ours.devDependencies };

let t: TestDatabase;
let tarball: string;
const children: ChildProcess[] = [];
let consumer: Started | undefined;

/** A command run to completion in the user's project, with the test's database. */
const sh = (command: string, args: string[], options: Omit<RunOptions, 'cwd'> & { cwd?: string } = {}) =>
  run(command, args, { cwd: app, ...options, env: { DATABASE_URL: t.url, ...options.env } });

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
  deleteQueue(key);
  deleteQueue(`DLQ.${key}`);
  await t?.drop();
  rmSync(work, { recursive: true, force: true });
});

test('the Quick start is what this test runs: its files and its commands', () => {
  assert.equal([...quickStart.files.keys()], ['schema.ts', 'outbox.config.ts', 'db.ts', 'drizzle.config.ts', 'consumer.ts', 'app.ts']);
  assert.equal(quickStart.commands, [
    'npm init -y && npm pkg set type=module',
    'npm install drizzle-outbox drizzle-orm postgres',
    'npm install -D drizzle-kit ts-morph tsx typescript @types/node',
    'createdb -h 127.0.0.1 -U postgres app',
    'npx outbox generate',
    'npx outbox migrate',
    'npx drizzle-kit generate && npx drizzle-kit migrate',
    'npx outbox consume consumer.ts#onOrder /topic/orders',
    'npx tsx app.ts',
    'npx outbox status',
    'npx outbox relay',
  ]);
});

test('the drizzle-orm peer range covers every version tried (test/package/peer-matrix.ts)', () => {
  const range = ours.peerDependencies['drizzle-orm'] as string;
  const m = /^>=(\d+)\.(\d+)\.(\d+) <(\d+)\.(\d+)$/.exec(range);
  assert.ok(m, `a range of the form >=a.b.c <x.y: ${range}`);
  const [lo, hi] = [[+m![1]!, +m![2]!, +m![3]!], [+m![4]!, +m![5]!, 0]];
  const cmp = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  for (const { version } of PEER_MATRIX) {
    const v = version.split('.').map(Number);
    assert.ok(cmp(v, lo) >= 0 && cmp(v, hi) < 0, `${version} in ${range}`);
  }
  assert.ok(PEER_MATRIX.some((p) => p.version === versions['drizzle-orm']), 'the version developed with is tried');
});

test('npm pack; the Quick start installs: npm init, the package with its peer and postgres, the dev tools', () => {
  assert.ok(existsSync(join(ROOT, 'dist/src/index.js')), 'dist/ is built (npm test builds it; else npm run build)');
  tarball = packTarball(ROOT, work);
  mkdirSync(app);
  const init = sh('sh', ['-c', quickStart.commands[0]!]);
  assert.is(init.code, 0, init.output);
  assert.is(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type, 'module');
  // The packages the Quick start names, at the versions this repository is tested with; ours is the tarball.
  const pinned = (name: string) => (name === 'drizzle-outbox' ? tarball : `${name}@${versions[name]}`);
  const started = Date.now();
  for (const command of quickStart.commands.slice(1, 3)) {
    const [, , ...rest] = command.split(' ');
    const dev = rest[0] === '-D';
    const names = dev ? rest.slice(1) : rest;
    const install = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...(dev ? ['-D'] : []), ...names.map(pinned)], { timeout: 120_000 });
    assert.is(install.code, 0, `${command}: ${install.output}`);
  }
  console.log(`   npm install: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(existsSync(join(app, 'node_modules/.bin/outbox')), 'the outbox binary is linked');
  assert.ok(!existsSync(join(app, 'node_modules/drizzle-outbox/test')), 'tests are not published');
  assert.ok(existsSync(join(app, 'node_modules/drizzle-outbox/drizzle')), 'the migrations are published');
});

test('the public interface resolves from plain Node', () => {
  writeFileSync(
    join(app, 'exports.mjs'),
    `import { defineConfig, publish, withCorrelationId, createProducer, createRelay, createConsumer, OutboxError, listFailed, peekDeadLetters } from 'drizzle-outbox';
const names = { defineConfig, publish, withCorrelationId, createProducer, createRelay, createConsumer, OutboxError, listFailed, peekDeadLetters };
const error = new OutboxError('E_CONFIG', 'x');
console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(names).map(([k, v]) => [k, typeof v])), code: error.code, isError: error instanceof Error }));
`,
  );
  const r = sh(process.execPath, ['exports.mjs']);
  assert.is(r.code, 0, r.output);
  assert.equal(JSON.parse(r.stdout), {
    defineConfig: 'function', publish: 'function', withCorrelationId: 'function', createProducer: 'function', createRelay: 'function',
    createConsumer: 'function', OutboxError: 'function', listFailed: 'function', peekDeadLetters: 'function', code: 'E_CONFIG', isError: true,
  });
});

test('a missing config: exit code 2 and one line saying what to do', () => {
  const r = sh('npx', ['outbox', 'generate']);
  assert.is(r.code, 2, r.output);
  const lines = r.output.trim().split('\n');
  assert.is(lines.length, 1, r.output);
  assert.match(lines[0]!, /^outbox: no outbox\.config\.ts here .*create one or pass --config/);
});

test('Quick start: the files as written; generate, migrate, drizzle-kit creates the orders table', async () => {
  for (const [name, content] of quickStart.files) writeFileSync(join(app, name), unique(content));
  // `createdb … app` is this test's own database (DATABASE_URL), which db.ts, drizzle.config.ts and the commands use.
  for (const command of quickStart.commands.slice(4, 7)) {
    const r = sh('sh', ['-c', unique(command)]);
    assert.is(r.code, 0, `${command}: ${r.output}`);
    if (command === 'npx outbox generate') for (const file of ['schema.ts', 'index.ts', 'outbox-trigger.sql']) assert.match(r.stdout, new RegExp(`wrote outbox/${file.replace('.', '\\.')}`));
    if (command === 'npx outbox migrate') assert.match(r.stdout, /^outbox: applied 0000_init, .* to postgres:/);
  }
  const tables = (await t.sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`).map((r) => r.table_name);
  for (const name of ['orders', 'outbox_published', 'outbox_received']) assert.ok(tables.includes(name), `${name} in ${tables}`);
  // Without DATABASE_URL, db.ts connects where the config says (what app.ts would have missed before).
  writeFileSync(join(app, 'where.ts'), "import { client } from './db.js';\nconsole.log(JSON.stringify({ host: client.options.host, port: client.options.port, database: client.options.database }));\nawait client.end();\n");
  const where = run('npx', ['tsx', 'where.ts'], { cwd: app });
  assert.is(where.code, 0, where.output);
  assert.equal(JSON.parse(where.stdout), { host: ['127.0.0.1'], port: [5432], database: 'app' });
});

test('the project typechecks against the published types, the Quick start\'s files as written', () => {
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true }, include: ['*.ts', 'outbox'] }),
  );
  const tsc = sh('npx', ['tsc', '-p', '.']);
  assert.is(tsc.code, 0, tsc.output);
});

test('without the optional OpenTelemetry packages: --metrics says in one line what to install (the Quick start below runs without them)', () => {
  assert.not.ok(existsSync(join(app, 'node_modules/@opentelemetry/api')), 'the Quick start installs no OpenTelemetry package');
  const r = sh('npx', ['outbox', 'relay', '--metrics', '127.0.0.1:0']);
  assert.is(r.code, 2, r.output);
  const lines = r.output.trim().split('\n').filter((l) => !/^\[relay\] info:/.test(l));
  assert.equal(lines, ['outbox: --metrics (OUTBOX_METRICS) needs @opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus: npm install @opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus'], r.output);
});

test('Quick start: the consumer first, then app.ts, status, the relay — the consumer receives every event; SIGTERM exits 0', async () => {
  const consume = quickStart.commands[7]!.split(' ').slice(1).map(unique);
  consumer = startNpx(app, consume, { DATABASE_URL: t.url });
  children.push(consumer.child);
  await waitFor(() => /consuming/.test(consumer!.output()), 60_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${consumer!.output()}`);
  });

  const write = sh('sh', ['-c', quickStart.commands[8]!]);
  assert.is(write.code, 0, write.output);
  const [order] = await t.sql`select id, status from orders`;
  assert.equal({ ...order }, { id: 1, status: 'paid' });
  const status = sh('sh', ['-c', quickStart.commands[9]!]);
  assert.is(status.code, 0, status.output);
  assert.match(status.stdout, /pending 2\b/, 'as the Quick start says');

  const relay = startNpx(app, quickStart.commands[10]!.split(' ').slice(1), { DATABASE_URL: t.url });
  children.push(relay.child);
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_received`)[0]!.n === 2, 30_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${consumer!.output()}\n${relay.output()}`);
  });
  const rows = await t.sql`select id::text from outbox_published order by seq`;
  const received = await t.sql`select message_id from outbox_received order by message_id`;
  assert.equal(received.map((r) => r.message_id), rows.map((r) => r.id).sort(), 'every event, once each, under its dop-msg-id');
  await waitFor(() => /order 1 is new/.test(consumer!.output()) && /order 1 is paid/.test(consumer!.output()), 10_000, 50);

  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where status = 'sent'`)[0]!.n === 2, 15_000, 100);
  terminateOutbox(relay.child);
  assert.is(await relay.exited, 0, relay.output());
  assert.match(relay.output(), /stopped \(2 sent/);
  terminateOutbox(consumer.child);
  assert.is(await consumer.exited, 0, consumer.output());
  const after = sh('npx', ['outbox', 'status', '--json']);
  assert.equal(JSON.parse(after.stdout).totals, { pending: 0, scheduled: 0, sent: 2, failed: 0 });
});

test('drizzle-kit push beside outbox migrate, as the README says: no prompt, no outbox table or sequence touched', async () => {
  const push = parseSection(readmeSection(README, '#### drizzle-kit push beside outbox migrate'));
  assert.equal([...push.files.keys()], ['outbox-sequences.ts', 'drizzle.config.ts']);
  for (const [name, content] of push.files) writeFileSync(join(app, name), content);
  // A column more, so push has something to do; stdin closed, so a prompt would end it with an error.
  writeFileSync(join(app, 'schema.ts'), readFileSync(join(app, 'schema.ts'), 'utf8').replace("  total: numeric(", "  note: text('note'),\n  total: numeric("));
  const r = sh('npx', ['drizzle-kit', 'push'], { timeout: 60_000 });
  assert.is(r.code, 0, r.output);
  assert.not.match(r.output, /DROP|rename|error/i, r.output);
  const columns = (await t.sql`select column_name from information_schema.columns where table_name = 'orders' order by 1`).map((c) => c.column_name);
  assert.ok(columns.includes('note'), 'push did its job');
  const tables = (await t.sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`).map((c) => c.table_name);
  for (const name of ['__outbox_migrations', 'outbox_published', 'outbox_published_idle', 'outbox_published_relays', 'outbox_received']) assert.ok(tables.includes(name), name);
  const again = sh('npx', ['drizzle-kit', 'push'], { timeout: 60_000 });
  assert.is(again.code, 0, again.output);
  assert.match(again.output, /No changes detected/);
});

test.run();

// @long: about a minute; started first so the run does not wait on it at the end.
/**
 * The operator's commands, run from the packed tarball as a user installs it (a production install: no
 * ts-morph, no PGlite), each as `node_modules/.bin/outbox …` in a fresh project: database failures in one
 * line, migrate's report, usage mistakes, help and colour, status, failed, retry, dlq, doctor, and the
 * relay's lines about a refused destination.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMAND_VARIABLES } from '../../src/cli/environment.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { lockNamespace } from '../../src/relay/instance.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, queueDepth, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertRows } from '../relay/rows.js';
import { installTarball, packTarball, run, runAsync, startBin, type Started } from './support.js';

const ROOT = process.cwd();
const work = mkdtempSync(join(tmpdir(), 'outbox-operators-test-'));
const app = join(work, 'app');
const broker = resolveConfig({}, {}).broker;
const key = uniqueName('ops-orders');
const unbound = uniqueName('ops-nobody');
const refusedQueue = uniqueName('ops-refused');

let t: TestDatabase;
let empty: TestDatabase;
const started: Started[] = [];

/** `outbox <args>` in the project, to completion. */
const outbox = (args: string[], env: Record<string, string> = {}, timeout = 60_000) => run(join(app, 'node_modules/.bin/outbox'), args, { cwd: app, env, timeout });
/** The same, while this process serves something the command talks to. */
const outboxAsync = (args: string[], env: Record<string, string> = {}) => runAsync(join(app, 'node_modules/.bin/outbox'), args, { cwd: app, env });
const db = () => ({ DATABASE_URL: t.url });
const oneLine = (r: { stderr: string }) => {
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  return lines[0]!;
};

test.before(async () => {
  t = await createTestDatabase({ migrate: false });
  empty = await createTestDatabase({ migrate: false });
});

test.after(async () => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  for (const q of [key, `DLQ.${key}`, refusedQueue]) deleteQueue(q);
  await t?.drop();
  await empty?.drop();
  rmSync(work, { recursive: true, force: true });
});

test('a production install: the tarball with its LICENSE and source maps that resolve, without ts-morph or PGlite', () => {
  assert.ok(existsSync(join(ROOT, 'dist/src/index.js')), 'dist/ is built (npm test builds it; else npm run build)');
  const tarball = packTarball(ROOT, work);
  const install = installTarball(app, tarball, ['drizzle-orm@0.45.4']);
  assert.is(install.code, 0, install.output);
  const pkg = join(app, 'node_modules/drizzle-outbox');
  assert.match(readFileSync(join(pkg, 'LICENSE'), 'utf8'), /^MIT License/);
  assert.not.ok(existsSync(join(app, 'node_modules/ts-morph')), 'ts-morph is not installed with the package');
  assert.not.ok(existsSync(join(app, 'node_modules/@electric-sql/pglite')), 'PGlite is not installed with the package');
  for (const file of ['dist/src/relay/relay.js.map', 'dist/src/cli/main.js.map', 'dist/codegen/generate.js.map']) {
    const map = JSON.parse(readFileSync(join(pkg, file), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    assert.is(map.sourcesContent?.length, map.sources.length, `${file} carries its sources`);
    assert.ok(map.sourcesContent!.every((s) => s.length > 0));
  }
  writeFileSync(
    join(app, 'outbox.config.mjs'),
    `import { pgTable, serial, text } from 'drizzle-orm/pg-core';
const orders = pgTable('orders', { id: serial('id').primaryKey(), status: text('status') });
export default {
  models: { order: { table: orders, publish: [{ destination: '/topic/${key}' }, { destination: '/topic/${unbound}' }] } },
  relay: { maxAttempts: 3, retryBackoff: { base: 0.2, max: 0.4 }, progressInterval: 0 },
};
`,
  );
  // What needs them says so, in one line.
  const generate = outbox(['generate']);
  assert.is(generate.code, 2, generate.output);
  assert.is(oneLine(generate), 'outbox: outbox generate needs ts-morph, which is not installed: npm install ts-morph');
  const embedded = outbox(['status']);
  assert.is(embedded.code, 2, embedded.output);
  assert.match(oneLine(embedded), /^outbox: the embedded database \(no DATABASE_URL or database\.url is set\) needs @electric-sql\/pglite, which is not installed: npm install @electric-sql\/pglite$/);
});

test('a database that cannot be used: one line naming the cause, for every command', async () => {
  const url = (u: string) => ({ DATABASE_URL: u });
  const refused = url('postgres://postgres@127.0.0.1:5999/app');
  const missing = url(t.url.replace(/\/[^/]*$/, '/no_such_database_here'));
  writeFileSync(join(app, 'noop.mjs'), 'export async function h() {}\n');
  const oneShot = [['status'], ['failed'], ['retry'], ['migrate']];
  // Independent processes: run side by side.
  const [refusedRuns, missingRuns, emptyRuns, relay, consume] = await Promise.all([
    Promise.all(oneShot.map((c) => outboxAsync(c, refused))),
    Promise.all(oneShot.map((c) => outboxAsync(c, missing))),
    Promise.all(oneShot.slice(0, 3).map((c) => outboxAsync(c, url(empty.url)))),
    outboxAsync(['relay'], missing),
    outboxAsync(['consume', 'noop.mjs#h', '/topic/nothing-here'], missing),
  ]);
  for (const r of refusedRuns) {
    assert.is(r.code, 1, r.output);
    assert.is(oneLine(r), 'outbox: E_DATABASE: connection refused to 127.0.0.1:5999 — postgres://postgres@127.0.0.1:5999/app');
  }
  for (const m of missingRuns) {
    assert.is(m.code, 2, m.output);
    assert.match(oneLine(m), /^outbox: database "no_such_database_here" does not exist \[3D000\]: check DATABASE_URL or database\.url — postgres:/);
  }
  for (const r of emptyRuns) {
    assert.is(r.code, 1, r.output);
    assert.match(oneLine(r), /^outbox: E_DATABASE: the outbox tables are missing: run outbox migrate \(relation "outbox_published\w*" does not exist \[42P01\]\) — postgres:/);
  }
  assert.is(relay.code, 2, relay.output);
  assert.match(oneLine(relay), /^outbox: the database refused the relay: database "no_such_database_here" does not exist/);
  assert.is(consume.code, 2, consume.output);
  assert.match(oneLine(consume), /^outbox: the database refused the consumer: database "no_such_database_here" does not exist/);
});

test('outbox migrate says what it applied, then that there was nothing to apply', () => {
  const first = outbox(['migrate'], db());
  assert.is(first.code, 0, first.output);
  assert.match(first.stdout, /^outbox: applied 0000_init, .*, 0008_ordering_keys to postgres:\/\/\S+\n$/);
  const again = outbox(['migrate'], db());
  assert.is(again.code, 0, again.output);
  assert.match(again.stdout, /^outbox: postgres:\/\/\S+ is already up to date\n$/);
});

test('usage mistakes name the word and the nearest valid one; a config that does not parse names file:line:column', async () => {
  writeFileSync(join(app, 'broken.config.mjs'), 'export default {\n  relay: { batchSize: 10 }\n  consumer: {},\n};\n');
  writeFileSync(join(app, 'typo.config.mjs'), 'export default { modles: {} };\n');
  const cases: Array<[string[], RegExp]> = [
    [['status', '--jsn'], /^outbox: status: unknown option --jsn \(did you mean --json\?\)$/],
    [['relay', 'extra'], /^outbox: relay: unexpected argument "extra" \(outbox relay takes no arguments\)$/],
    [['stauts'], /^outbox: unknown command "stauts" \(did you mean outbox status\?\)$/],
    [['retry', '--limit', 'ten'], /^outbox: --limit must be a positive whole number, not "ten"$/],
    [['dlq', 'peek'], /^outbox: Missing required positional argument: QUEUE \(see outbox dlq peek --help\)$/],
    [['dlq', 'peak', 'q'], /^outbox: unknown command "peak" \(did you mean outbox dlq peek\?\)$/],
    [['status', '--config', 'broken.config.mjs'], /^outbox: broken\.config\.mjs:3:2: syntax error: /],
    [['status', '--config', 'typo.config.mjs'], /^outbox: modles: unknown key \(did you mean models\?\)$/],
  ];
  const runs = await Promise.all(cases.map(([args]) => outboxAsync(args, db())));
  cases.forEach(([args, line], i) => {
    const r = runs[i]!;
    assert.is(r.code, 2, `${args.join(' ')}: ${r.output}`);
    assert.match(oneLine(r), line);
  });
});

test('help lists the environment each command reads; no colour when the output is not a terminal', async () => {
  const commands = Object.entries(COMMAND_VARIABLES);
  // Nothing set either way: colour would be on, were stdout a terminal.
  const runs = await Promise.all(commands.map(([command]) => outboxAsync([...command.split(' '), '--help'], { NO_COLOR: '', FORCE_COLOR: '' })));
  commands.forEach(([command, variables], i) => {
    const r = runs[i]!;
    assert.is(r.code, 0, r.output);
    assert.not.match(r.stdout, /\x1b\[/, `${command} --help has no escape codes`);
    assert.match(r.stdout, /ENVIRONMENT/);
    for (const v of variables) assert.match(r.stdout, new RegExp(`^  ${v} `, 'm'), `${command} --help names ${v}`);
  });
});

test('outbox status: pending, failed, sent; a refused destination and the rows it holds; stale leases; relays alive, asleep, gone, blocked', async () => {
  const namespace = lockNamespace('outbox_published');
  const [live, blocked, dead] = [101, 102, 103];
  // A live relay's session holds its lock; this test's reserved connection plays two of them.
  const session = await t.sql.reserve();
  try {
    await session`select pg_advisory_lock(${namespace}, ${live}), pg_advisory_lock(${namespace}, ${blocked})`;
    await t.sql`insert into outbox_published_relays (relay_id, lock_key, host, pid, state, state_since) values
      ('00000000-0000-4000-8000-000000000101', ${live}, 'web-1', 11, 'running', now()),
      ('00000000-0000-4000-8000-000000000102', ${blocked}, 'web-2', 12, 'blocked', now() - interval '45 seconds'),
      ('00000000-0000-4000-8000-000000000103', ${dead}, 'web-3', 13, 'running', now())`;
    await t.sql`insert into outbox_published_idle (relay_id, expires_at) values ('00000000-0000-4000-8000-000000000101', now() + interval '1 minute')`;
    const refusal = `E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: precondition_failed — PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'billing' in vhost '/'`;
    const sent = await insertRows(t.db, '/topic/orders', 3);
    const due = await insertRows(t.db, '/topic/orders', 2);
    const held = await insertRows(t.db, '/queue/billing', 4);
    const failed = await insertRows(t.db, '/queue/billing', 2);
    const stale = await insertRows(t.db, '/topic/audit', 1);
    const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);
    await t.sql`update outbox_published set status = 'sent', sent_at = now(), attempts = 1 where id = any(${ids(sent)}::uuid[])`;
    await t.sql`update outbox_published set attempts = 2, last_error = ${refusal}, next_attempt_at = now() + interval '5 minutes', owner = ${live} where id = any(${ids(held)}::uuid[])`;
    await t.sql`update outbox_published set status = 'failed', attempts = 50, last_error = ${refusal} where id = any(${ids(failed)}::uuid[])`;
    await t.sql`update outbox_published set attempts = 1, next_attempt_at = now() + interval '30 seconds', owner = ${dead} where id = any(${ids(stale)}::uuid[])`;
    void due;

    const json = outbox(['status', '--json'], db());
    assert.is(json.code, 0, json.output);
    const s = JSON.parse(json.stdout);
    assert.equal(s.totals, { pending: 7, scheduled: 5, sent: 3, failed: 2 });
    assert.equal(s.estimated, { pending: false, sent: false, failed: false });
    const billing = s.destinations.find((d: { destination: string }) => d.destination === '/queue/billing');
    assert.equal(
      { pending: billing.pending, held: billing.held, failed: billing.failed, refused: billing.refused },
      { pending: 4, held: 4, failed: 2, refused: true },
    );
    assert.match(billing.lastError, /PRECONDITION_FAILED/);
    assert.equal(s.held, { rows: 4, destinations: ['/queue/billing'] });
    assert.is(s.staleLeases, 1, 'the row leased by the relay that is gone');
    const relays = Object.fromEntries(s.relays.map((r: { host: string; alive: boolean; asleep: boolean; state: string }) => [r.host, [r.alive, r.asleep, r.state]]));
    assert.equal(relays, { 'web-1': [true, true, 'running'], 'web-2': [true, false, 'blocked'], 'web-3': [false, false, 'running'] });
    assert.is(s.alarm.blocked, 1);
    assert.ok(s.alarm.longest >= 44);

    const text = outbox(['status'], db());
    assert.is(text.code, 0, text.output);
    assert.match(text.stdout, /pending 7 \(5 leased or waiting to retry\), oldest .* · failed 2 · sent 3/);
    assert.match(text.stdout, /\/queue\/billing\s+4\s+4\s+2\s+\S+ s\s+refused/);
    assert.match(text.stdout, /\/queue\/billing is refused by the broker: 4 row\(s\) held/);
    assert.match(text.stdout, /1 row\(s\) leased by a relay that is gone: a running relay frees them/);
    assert.match(text.stdout, /relays: 2 running \(1 asleep, waiting for work\), 1 gone/);
    assert.match(text.stdout, /web-2 pid 12 .* blocked .*: the broker confirms nothing/);
  } finally {
    session.release();
    await t.sql`delete from outbox_published`;
    await t.sql`delete from outbox_published_relays`;
    await t.sql`delete from outbox_published_idle`;
  }
});

test('outbox failed lists them newest first; outbox retry by --id, --destination with --limit, --since, in batches of 1,000', async () => {
  const x = await insertRows(t.db, '/queue/x', 2_500);
  const y = await insertRows(t.db, '/queue/y', 3);
  const error = 'E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: not_found — NOT_FOUND - no exchange \'x\' in vhost \'/\'';
  await t.sql`update outbox_published set status = 'failed', attempts = 50, last_error = ${error}`;
  // Two of /queue/y were written two hours ago.
  await t.sql`update outbox_published set created_at = now() - interval '2 hours' where id = any(${[y[0]!.id, y[1]!.id]}::uuid[])`;

  const listY = JSON.parse(outbox(['failed', '--destination', '/queue/y', '--json'], db()).stdout);
  assert.is(listY.total, 3);
  assert.equal(listY.rows.map((r: { id: string }) => r.id), [y[2]!.id, y[1]!.id, y[0]!.id], 'newest first');
  assert.equal(Object.keys(listY.rows[0]).sort(), ['age', 'attempts', 'createdAt', 'destination', 'id', 'lastError', 'seq']);
  const recent = JSON.parse(outbox(['failed', '--since', '1h', '--limit', '5', '--json'], db()).stdout);
  assert.is(recent.total, 2_501);
  assert.is(recent.rows.length, 5);
  const text = outbox(['failed', '--limit', '2'], db());
  assert.is(text.code, 0, text.output);
  assert.match(text.stdout, /^2,503 failed row\(s\); the newest 2:/);
  assert.match(text.stdout, /E_BROKER_ERROR: NOT_FOUND - no exchange 'x' in vhost '\/'/, 'the broker\'s words');

  const byId = outbox(['retry', '--id', y[2]!.id], db());
  assert.match(byId.stdout, /^outbox: re-queued 1 failed row\(s\) with the id\(s\) given in 1 batch\(es\)/);
  const limited = outbox(['retry', '--destination', '/queue/x', '--limit', '1200'], db());
  assert.match(limited.stdout, /^outbox: re-queued 1,200 failed row\(s\) to \/queue\/x in 2 batch\(es\)/);
  const since = outbox(['retry', '--since', '1h'], db());
  assert.match(since.stdout, /^outbox: re-queued 1,300 failed row\(s\) written since 1h in 2 batch\(es\)/);
  const rest = outbox(['retry'], db());
  assert.match(rest.stdout, /^outbox: re-queued 2 failed row\(s\) in 1 batch\(es\)/);
  const none = outbox(['retry'], db());
  assert.match(none.stdout, /^outbox: no failed rows/);
  const [r] = await t.sql`select count(*) filter (where status = 'pending' and attempts = 0 and next_attempt_at <= now())::int as due, count(*)::int as n from outbox_published`;
  assert.equal({ ...r }, { due: x.length + y.length, n: x.length + y.length });
  await t.sql`delete from outbox_published`;
});

test('outbox dlq: a consumer NACKs three messages; peek shows them and leaves them; replay by --id and --limit brings them back to the consumer; purge needs --yes', async () => {
  writeFileSync(
    join(app, 'handler.mjs'),
    `import { existsSync } from 'node:fs';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';

export const db = drizzle({ client: new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 }) });

// Dead-letters everything until the file "accept" exists.
export async function onOrder(payload) {
  if (!existsSync('accept')) return payload.nack();
  await db.transaction((tx) => payload.save(tx));
}
`,
  );
  const consumer = startBin(app, ['consume', 'handler.mjs#onOrder', `/topic/${key}`], db());
  started.push(consumer);
  await waitFor(() => /consuming/.test(consumer.output()), 30_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${consumer.output()}`);
  });
  const ids = ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a3'];
  const s = await connect({ broker, logger: silentLogger });
  for (const [i, id] of ids.entries()) {
    await s.send(`/topic/${key}`, JSON.stringify({ n: i }), { headers: { 'dop-msg-id': id, 'x-source': 'ops-test', 'content-type': 'application/json', persistent: 'true' } });
  }
  await s.disconnect();
  await waitFor(() => queueDepth(`DLQ.${key}`) === 3, 30_000, 100);

  const peek = outbox(['dlq', 'peek', key, '--json']);
  assert.is(peek.code, 0, peek.output);
  const letters = JSON.parse(peek.stdout);
  assert.equal(letters.map((m: { id: string }) => m.id), ids);
  assert.equal(letters[0].reason, { reason: 'rejected', queue: key, exchange: 'amq.topic', text: `rejected (NACK) by a consumer of ${key}` });
  assert.is(letters[0].headers['x-source'], 'ops-test');
  assert.is(letters[0].body, '{"n":0}');
  await waitFor(() => queueDepth(`DLQ.${key}`) === 3, 10_000, 100);
  const text = outbox(['dlq', 'peek', key, '--limit', '1']);
  assert.match(text.stdout, new RegExp(`^DLQ\\.${key}: 1 message\\(s\\) \\(the first 1; there may be more: --limit\\), left in the queue`));
  assert.match(text.stdout, new RegExp(`reason: rejected \\(NACK\\) by a consumer of ${key}`));

  writeFileSync(join(app, 'accept'), '');
  const one = outbox(['dlq', 'replay', key, '--id', ids[1]!]);
  assert.is(one.code, 0, one.output);
  assert.match(one.stdout, new RegExp(`^outbox: replayed 1 message\\(s\\) from DLQ\\.${key} to ${key}\\noutbox: left 2 other message\\(s\\)`));
  const inbox = async () => (await t.sql`select message_id, headers from outbox_received order by message_id`) as unknown as Array<{ message_id: string; headers: Record<string, string> }>;
  await waitFor(async () => (await inbox()).length === 1, 30_000, 100);
  const [replayed] = await inbox();
  assert.is(replayed!.message_id, ids[1]);
  assert.is(replayed!.headers['x-source'], 'ops-test', 'its own headers went with it');
  assert.equal(Object.keys(replayed!.headers).filter((h) => /^x-(first|last)-death|^x-queue-name$|^x-dead-letter/.test(h)), [], 'without the dead-lettering record or copied queue arguments');

  const limited = outbox(['dlq', 'replay', key, '--limit', '1']);
  assert.match(limited.stdout, /^outbox: replayed 1 message\(s\)/);
  await waitFor(async () => (await inbox()).length === 2, 30_000, 100);
  assert.is(queueDepth(`DLQ.${key}`), 1);

  const unconfirmed = outbox(['dlq', 'purge', key]);
  assert.is(unconfirmed.code, 2, unconfirmed.output);
  assert.match(oneLine(unconfirmed), /add --yes/);
  const purge = outbox(['dlq', 'purge', key, '--yes']);
  assert.is(purge.code, 0, purge.output);
  assert.match(purge.stdout, new RegExp(`^outbox: dropped 1 message\\(s\\) from DLQ\\.${key}`));
  assert.is(queueDepth(`DLQ.${key}`), 0);
  const missing = outbox(['dlq', 'replay', uniqueName('no-such-queue')]);
  assert.is(missing.code, 1, missing.output);
  assert.match(oneLine(missing), /^outbox: E_BROKER_ERROR: there is no queue no-such-queue-\w+ on the broker/);

  consumer.child.kill('SIGTERM');
  assert.is(await consumer.exited, 0, consumer.output());
  await t.sql`delete from outbox_received`;
});

/** A stand-in for RabbitMQ's management API: the bindings and queues of vhost `/`. */
function management(bindings: Array<{ source: string; destination: string; destination_type: string; routing_key: string }>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const body = req.url?.startsWith('/api/bindings/%2F') ? bindings : req.url?.startsWith('/api/queues/%2F') ? [{ name: key }] : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

test('outbox doctor: every check passes on a migrated database and a live broker; a topic nobody is bound to fails; what it cannot see it says', async () => {
  const api = await management([{ source: 'amq.topic', destination: key, destination_type: 'queue', routing_key: key }]);
  try {
    const seen = await outboxAsync(['doctor', '--json'], { ...db(), OUTBOX_RABBITMQ_MANAGEMENT_URL: api.url });
    assert.is(seen.code, 1, seen.output);
    const report = JSON.parse(seen.stdout);
    assert.is(report.ok, false);
    const by = Object.fromEntries(report.checks.map((c: { name: string; status: string; detail: string }) => [c.name, c]));
    for (const name of ['config', 'database', 'migrations', 'tables', 'indexes', 'trigger', 'clock', 'broker', 'publish', `/topic/${key}`]) {
      assert.is(by[name]?.status, 'ok', `${name}: ${JSON.stringify(by[name])}`);
    }
    assert.is(by[`/topic/${unbound}`].status, 'fail');
    assert.match(by[`/topic/${unbound}`].detail, /no queue is bound to routing key .*RabbitMQ confirms these events and drops them/);
    const text = await outboxAsync(['doctor'], { ...db(), OUTBOX_RABBITMQ_MANAGEMENT_URL: api.url });
    assert.is(text.code, 1);
    assert.match(text.stdout, new RegExp(`1 check\\(s\\) failed: /topic/${unbound}\\n$`));
  } finally {
    api.server.close();
  }
  // Without a management API: said plainly, and not a failure.
  const blind = outbox(['doctor'], { ...db(), OUTBOX_RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:9' });
  assert.is(blind.code, 0, blind.output);
  assert.match(blind.stdout, /skip\s+routing\s+cannot see which queues are bound: the RabbitMQ management API does not answer at http:\/\/127\.0\.0\.1:9/);
  assert.match(blind.stdout, /all checks passed/);
  // An unmigrated database and an unreachable broker: failed, and named.
  const bad = outbox(['doctor'], { DATABASE_URL: empty.url, OUTBOX_BROKER_URL: 'stomp://guest:guest@127.0.0.1:9/', OUTBOX_RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:9' });
  assert.is(bad.code, 1, bad.output);
  assert.match(bad.stdout, /fail\s+migrations\s+9 not applied \(0000_init, .*\): run outbox migrate/);
  assert.match(bad.stdout, /fail\s+broker\s+cannot reach 127\.0\.0\.1:9/);
  assert.match(bad.stdout, /check\(s\) failed: migrations, tables, broker/);
});

test('outbox relay and a refused destination: one line per refusal in the broker\'s words, no blank line', async () => {
  const s = await connect({ broker, logger: silentLogger });
  s.subscribe(`/queue/${refusedQueue}`, { 'x-max-length': '10', durable: 'true', 'auto-delete': 'false' }, () => {});
  await s.disconnect();
  await insertRows(t.db, `/queue/${refusedQueue}`, 2);
  await insertRows(t.db, `/topic/${key}`, 50);
  const relay = startBin(app, ['relay'], db());
  started.push(relay);
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where status = 'failed'`)[0]!.n === 2, 30_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${relay.output()}`);
  });
  relay.child.kill('SIGTERM');
  assert.is(await relay.exited, 0, relay.output());
  const lines = relay.output().trimEnd().split('\n');
  assert.not.ok(lines.some((l) => l.trim() === ''), `no blank line:\n${relay.output()}`);
  assert.not.ok(lines.some((l) => /Processing error/.test(l)));
  // Every line about it is a refusal in the broker's words (test/relay/log-lines.test.ts counts one per ERROR frame).
  const refusals = lines.filter((l) => l.includes(refusedQueue));
  assert.ok(refusals.length >= 2, `the first refusal and a probe at least:\n${relay.output()}`);
  for (const l of refusals) assert.match(l, new RegExp(`^\\[relay\\] warn: the broker refused /queue/${refusedQueue}( again)?: PRECONDITION_FAILED - inequivalent arg`));
});

test.run();

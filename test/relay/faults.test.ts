/**
 * The broker goes away under a busy relay — its connections closed, then the whole broker stopped and
 * started — and nothing is lost: the relay reconnects with backoff and every row arrives.
 */
// @serial: closes every connection on the broker and stops RabbitMQ (stop_app), under every other file's feet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRelay } from '../../src/relay/relay.js';
import { closeAllConnections, deleteQueue, rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import pg from 'pg';
import postgres from 'postgres';
import { openDatabase } from '../../src/db/open.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertBacklog, insertRows, testConfig } from './rows.js';
import { captureLogger, countIds, readQueue } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-faults');
const queues = [queue];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const q of queues) deleteQueue(q);
  await t.drop();
});

// Tolerates our own connection being dropped by the test below.
const sentSoFar = async () => ((await countByStatus(t.sql).catch(() => ({}) as Record<string, number>)).sent ?? 0);

test('connections closed, then the broker stopped and started: the relay reconnects and nothing is lost', async () => {
  const backlog = 30_000;
  await insertBacklog(t.sql, `/queue/${queue}`, backlog);
  const config = testConfig(t.url, { broker: { maxBackoff: 1, connectTimeout: 2 } });
  const logger = captureLogger();
  const connects = () => logger.lines.filter((l) => l.text.startsWith('connected to the broker')).length;
  const relay = createRelay({ db: t.db, config, logger });
  const running = relay.run();
  let stopped = false;
  try {
    await waitFor(async () => (await sentSoFar()) >= 2_000, 30_000, 10);
    closeAllConnections('test: relay fault injection');
    await waitFor(() => connects() >= 2, 30_000);

    await waitFor(async () => (await sentSoFar()) >= 10_000, 30_000, 10);
    rabbitmqctl('stop_app');
    stopped = true;
    // Events keep being committed while the broker is away.
    const during = await insertRows(t.db, `/queue/${queue}`, 100);
    await new Promise((r) => setTimeout(r, 2_000));
    rabbitmqctl('start_app');
    stopped = false;
    await waitFor(() => connects() >= 3, 60_000);

    const total = backlog + during.length;
    await waitFor(async () => (await sentSoFar()) === total, 60_000, 100);
    const counts = countIds(await readQueue(config, queue, total, { timeoutMs: 60_000, settleMs: 1000 }));
    assert.is(counts.size, total, 'every row arrived (duplicates allowed: rows in flight at the drop may be resent)');
    for (const row of during) assert.ok(counts.has(row.id), 'rows written while the broker was down arrived');
    assert.ok(logger.lines.some((l) => /cannot connect to the broker/.test(l.text)), 'the outage is logged (once, not per attempt)');
    assert.ok(logger.lines.some((l) => /lost the broker connection/.test(l.text)), 'the loss is logged');
  } finally {
    if (stopped) rabbitmqctl('start_app');
    await relay.stop();
    await running;
  }
});

test("the database drops the relay's connections mid-drain: it backs off, reconnects, and nothing is lost", async () => {
  await t.sql`truncate outbox_published`;
  const q = uniqueName('relay-db-blink');
  queues.push(q);
  const backlog = 20_000;
  await insertBacklog(t.sql, `/queue/${q}`, backlog);
  const config = testConfig(t.url, { broker: { maxBackoff: 1 } });
  const logger = captureLogger(!!process.env.ECHO);
  // The relay on node-postgres, as `outbox relay` runs it: postgres.js 3.4.9 ends the process with an
  // uncatchable TypeError when a backend it is writing to is terminated (README "Guarantees").
  const database = await openDatabase(config);
  const relay = createRelay({ db: database.db, config, logger });
  const running = relay.run();
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  // Our own polling on node-postgres too, for the same reason.
  const poll = new pg.Pool({ connectionString: t.url, max: 1 });
  poll.on('error', () => {});
  poll.on('connect', (c) => c.on('error', () => {}));
  const sentSoFar = async () =>
    Number((await poll.query(`select count(*)::int as n from outbox_published where status = 'sent'`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n);
  try {
    for (const atLeast of [2_000, 8_000]) {
      await waitFor(async () => (await sentSoFar()) >= atLeast, 30_000, 10);
      // Every session on the test database, the relay's (claims, marks, LISTEN) and ours alike.
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${t.name} and pid <> pg_backend_pid()`;
    }
    await waitFor(async () => (await sentSoFar()) === backlog, 60_000, 100);
    const counts = countIds(await readQueue(config, q, backlog, { timeoutMs: 60_000, settleMs: 1000 }));
    assert.is(counts.size, backlog, 'every row arrived');
  } finally {
    await admin.end();
    await relay.stop();
    await running;
    await database.close().catch(() => {});
    await poll.end().catch(() => {});
  }
});

test.run();

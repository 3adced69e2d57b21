/** The relay's main promise: every committed row reaches the broker, in the README's wire format, and is marked sent. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isOutboxError } from '../../src/errors.js';
import { createRelay } from '../../src/relay/relay.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertRows, testConfig } from './rows.js';
import { countIds, readQueue } from './support.js';

let t: TestDatabase;
const queues: string[] = [];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const q of queues) deleteQueue(q);
  await t.drop();
});

test('N rows → N messages with the wire-format headers, dop-msg-id = row id, body intact, every row sent', async () => {
  const queue = uniqueName('relay-basic');
  queues.push(queue);
  const config = testConfig(t.url, { relay: { batchSize: 50 } });
  const rows = await insertRows(t.db, `/queue/${queue}`, 500, { 'x-tenant': 'acme' });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    const messages = await readQueue(config, queue, rows.length);
    assert.is(messages.length, rows.length, 'no duplicates');
    const byId = new Map(messages.map((m) => [m.headers['dop-msg-id'], m]));
    for (const row of rows) {
      const m = byId.get(row.id);
      assert.ok(m, `message for row ${row.id}`);
      for (const [name, value] of Object.entries(row.headers)) assert.is(m!.headers[name], value, `header ${name} as stored`);
      assert.is(m!.headers['content-type'], 'application/json');
      assert.is(m!.headers.persistent, 'true');
      assert.is(m!.headers['x-tenant'], 'acme');
      assert.equal(JSON.parse(m!.body.toString('utf8')), row.body);
    }
    // Sent in creation order (one relay, one connection).
    assert.equal(messages.map((m) => (JSON.parse(m.body.toString()) as { n: number }).n), rows.map((_, i) => i));
    await waitFor(async () => (await countByStatus(t.sql)).sent === rows.length);
    const [r] = await t.sql`select count(*)::int as n from outbox_published where sent_at is null or last_error is not null or attempts <> 1`;
    assert.is(r!.n, 0, 'every row sent once, with sent_at and no error');
  } finally {
    await relay.stop();
    await running;
  }
});

test('a commit wakes an idle relay through NOTIFY, long before its poll interval', async () => {
  const queue = uniqueName('relay-notify');
  queues.push(queue);
  // A 60 s poll: if the message arrives within the 10 s wait, NOTIFY woke the relay.
  const config = testConfig(t.url, { relay: { pollInterval: 60 } });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(async () => (await countByStatus(t.sql)).pending === undefined);
    await new Promise((r) => setTimeout(r, 300)); // idle, waiting
    const [row] = await insertRows(t.db, `/queue/${queue}`, 1);
    const [m] = await readQueue(config, queue, 1, { timeoutMs: 10_000, settleMs: 0 });
    assert.is(m!.headers['dop-msg-id'], row!.id);
  } finally {
    await relay.stop();
    await running;
  }
});

test('a /topic/ row reaches every queue bound to its routing key', async () => {
  const key = uniqueName('relay-topic');
  const [qa, qb] = [`${key}-a`, `${key}-b`];
  queues.push(qa, qb);
  const config = testConfig(t.url);
  // Bind the queues first: RabbitMQ confirms and drops a topic message nobody is bound to.
  const s = await connect({ broker: config.broker, logger: silentLogger });
  for (const q of [qa, qb]) s.subscribe(`/topic/${key}`, { 'x-queue-name': q, durable: 'true', 'auto-delete': 'false' }, () => {}, q);
  await s.disconnect();
  const rows = await insertRows(t.db, `/topic/${key}`, 20);
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    for (const q of [qa, qb]) {
      const counts = countIds(await readQueue(config, q, rows.length));
      assert.equal([...counts.keys()].sort(), rows.map((r) => r.id).sort(), `${q} got every message`);
    }
  } finally {
    await relay.stop();
    await running;
  }
});

test('stop() twice returns the same promise and the relay ends cleanly', async () => {
  const relay = createRelay({ db: t.db, config: testConfig(t.url), logger: silentLogger });
  const running = relay.run();
  const a = relay.stop();
  const b = relay.stop();
  assert.is(a, b);
  await a;
  await running;
});

test('without the outbox table, run() rejects E_DATABASE saying to run outbox migrate (a setup mistake, not an outage)', async () => {
  const bare = await createTestDatabase({ migrate: false });
  try {
    const relay = createRelay({ db: bare.db, config: testConfig(bare.url), logger: silentLogger });
    const error = await relay.run().then(() => undefined, (e: unknown) => e);
    assert.ok(isOutboxError(error, 'E_DATABASE'), String(error));
    assert.match((error as Error).message, /outbox migrate/);
  } finally {
    await bare.drop();
  }
});

test.run();

/**
 * Refused destinations beside healthy traffic, with the settings a user gets. RabbitMQ closes the whole
 * connection on a refused SEND, so a relay that kept sending (or probing) a refused destination on its one
 * connection stalled every healthy row behind it — for hours with maxAttempts 50 (measured before: 0 of
 * 80,000 healthy rows in 10 s, again and again). Now the first refusal of each destination costs one
 * connection, its rows are held, and its probes go alone on a connection of their own: the healthy backlog
 * drains, and the refused rows carry the broker's own words.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countSent, insertRows } from './rows.js';
import { countIds, readQueue } from './support.js';

let t: TestDatabase;
const bad = uniqueName('relay-refused-queue');
const good = uniqueName('relay-healthy');
const exchange = uniqueName('no-such-exchange');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(bad);
  deleteQueue(good);
  await t.drop();
});

test('defaults: a /queue/ declared with other arguments and a missing exchange ahead of 5,000 healthy rows — the healthy rows all go, once', async () => {
  const config = resolveConfig({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] } }, {});
  // /queue/<bad> exists with x-max-length: the relay's plain SEND re-declares it without → PRECONDITION_FAILED.
  const s = await connect({ broker: config.broker, logger: silentLogger });
  s.subscribe(`/queue/${bad}`, { 'x-max-length': '10', durable: 'true', 'auto-delete': 'false' }, () => {});
  await s.disconnect();

  const refusedRows = [...(await insertRows(t.db, `/queue/${bad}`, 1)), ...(await insertRows(t.db, `/exchange/${exchange}/key`, 2))];
  const healthy = await insertRows(t.db, `/queue/${good}`, 5_000);
  // Independent of the relay's logs: every connection it opens, seen from the frames.
  let connects = 0;
  config.broker.onFrame = (direction, command) => {
    if (direction === 'out' && command === 'CONNECT') connects++;
  };
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    const ids = healthy.map((r) => r.id);
    await waitFor(async () => (await countSent(t.sql, ids)) === ids.length, 60_000, 100);
  } finally {
    await relay.stop();
    await running;
  }

  const counts = countIds(await readQueue(config, good, healthy.length, { timeoutMs: 30_000, settleMs: 1000 }));
  for (const r of healthy) assert.ok(counts.has(r.id), 'every healthy row arrived');
  // A healthy row RabbitMQ had taken but not yet confirmed when a refusal closed the connection is sent
  // again (at-least-once). Only the first refusal of each destination happens on the shared connection.
  const twice = [...counts.values()].filter((n) => n > 1).length;
  assert.ok(twice <= 2 * config.relay.window, `${twice} healthy rows arrived twice`);
  const [charged] = await t.sql`select count(*)::int as n from outbox_published where destination = ${`/queue/${good}`} and (attempts > 1 or status <> 'sent')`;
  assert.is(charged!.n, 0, 'no healthy row was charged a failed attempt for another destination');

  const rows = await t.sql<{ destination: string; status: string; last_error: string | null }[]>`
    select destination, status, last_error from outbox_published where id = any(${refusedRows.map((r) => r.id)}::uuid[])`;
  for (const r of rows) {
    assert.is(r.status, 'pending', 'a refused row keeps being probed (default maxAttempts 50)');
    const named = r.destination.startsWith('/queue/') ? /PRECONDITION_FAILED|inequivalent/ : /NOT_FOUND|no exchange/;
    assert.match(String(r.last_error), named, `${r.destination} carries the broker's words for its own refusal`);
  }
  console.log(`${connects} connections; ${twice} healthy rows twice`);
});

test.run();

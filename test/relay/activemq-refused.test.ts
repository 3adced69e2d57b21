/**
 * A refused SEND on ActiveMQ, with the user's defaults: ActiveMQ answers it with an ERROR that carries its
 * receipt-id and names the destination `temp-queue://…` (RabbitMQ names `queue 'x'` and closes the
 * connection). The relay reads the name with ActiveMQ's rule from the broker table: the refused row is
 * charged and keeps the broker's words, the healthy rows beside it all go, none of them charged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { ACTIVEMQ_PORT, STOMP_HOST, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countSent, insertRows } from './rows.js';
import { countIds, readQueue } from './support.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t.drop();
});

test('ActiveMQ: a refused destination among 500 healthy rows is blamed by name; the healthy rows all go, uncharged', async () => {
  const config = resolveConfig({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: ACTIVEMQ_PORT }] } }, {});
  const good = uniqueName('relay-amq-healthy');
  // A temporary queue that does not exist (rows written by hand: publish() takes no /remote-temp-queue/).
  const bad = `/remote-temp-queue/ID:${uniqueName('gone')}:1:1`;
  const before = await insertRows(t.db, `/queue/${good}`, 250);
  const refused = await insertRows(t.db, bad, 1);
  const after = await insertRows(t.db, `/queue/${good}`, 250);
  const healthy = [...before, ...after];
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    const ids = healthy.map((r) => r.id);
    await waitFor(async () => (await countSent(t.sql, ids)) === ids.length, 60_000, 100);
    await waitFor(async () => (await t.sql`select 1 from outbox_published where id = ${refused[0]!.id} and last_error is not null`).length === 1, 30_000);
  } finally {
    await relay.stop();
    await running;
  }
  const counts = countIds(await readQueue(config, good, healthy.length, { timeoutMs: 30_000, settleMs: 500 }));
  for (const r of healthy) assert.ok(counts.has(r.id), 'every healthy row arrived');
  const [charged] = await t.sql`select count(*)::int as n from outbox_published where destination = ${`/queue/${good}`} and (attempts > 1 or status <> 'sent')`;
  assert.is(charged!.n, 0, 'no healthy row was charged for the refusal');
  const [row] = await t.sql<{ status: string; attempts: number; last_error: string }[]>`select status, attempts, last_error from outbox_published where id = ${refused[0]!.id}`;
  assert.is(row!.status, 'pending', 'kept for another attempt (default maxAttempts 50)');
  assert.ok(row!.attempts >= 1, 'charged an attempt');
  assert.match(row!.last_error, /temp-queue:\/\/ID:gone-/, "it carries ActiveMQ's words, naming it");
});

test.run();

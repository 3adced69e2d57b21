/** Several relays on one database: SKIP LOCKED + leases split the backlog, no message is sent twice. */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { OutboxDb } from '../../src/db/types.js';
import { createRelay } from '../../src/relay/relay.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertBacklog, testConfig } from './rows.js';
import { captureLogger, countIds, readQueue } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-three');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(queue);
  await t.drop();
});

test('three relays drain a 20,000-row backlog: every message delivered exactly once', async () => {
  const total = 20_000;
  await insertBacklog(t.sql, `/queue/${queue}`, total);
  const config = testConfig(t.url, { relay: {} });
  const clients = [0, 1, 2].map(() => postgres(t.url, { max: 4, onnotice: () => {} }));
  const loggers = clients.map(() => captureLogger());
  const relays = clients.map((client, i) => createRelay({ db: drizzle({ client }) as unknown as OutboxDb, config, logger: loggers[i] }));
  const running = relays.map((r) => r.run());
  try {
    await waitFor(async () => (await countByStatus(t.sql)).sent === total, 60_000, 200);
    const counts = countIds(await readQueue(config, queue, total, { timeoutMs: 60_000, settleMs: 1000 }));
    assert.is(counts.size, total, 'every row arrived');
    const twice = [...counts.values()].filter((n) => n > 1).length;
    assert.is(twice, 0, 'none arrived twice');
    const [r] = await t.sql`select count(*)::int as n from outbox_published where attempts <> 1`;
    assert.is(r!.n, 0, 'every row was claimed exactly once');
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(running);
    await Promise.all(clients.map((c) => c.end({ timeout: 5 })));
  }
  // All three took part: the work was shared, not done by one while the others waited on locks.
  for (const [i, log] of loggers.entries()) {
    assert.ok(log.lines.some((l) => /^stopped \([1-9]/.test(l.text)), `relay ${i} sent something`);
  }
});

test.run();

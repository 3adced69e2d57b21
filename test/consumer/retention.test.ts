/** The consumer keeps the inbox bounded (rows older than retention.days go) and needs the inbox table to start. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isOutboxError } from '../../src/errors.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
const queue = uniqueName('retention');

test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  cleanupQueues(queue);
  await t?.drop();
});

test('a running consumer deletes inbox rows older than retention.days, in batches, and records the run', async () => {
  await t.sql`insert into outbox_received (message_id, destination, body, headers, received_at)
    select 'old-' || i, '/topic/x', '{}', '{}', now() - interval '31 days' from generate_series(1, 25) i`;
  await t.sql`insert into outbox_received (message_id, destination, body, headers, received_at)
    values ('recent', '/topic/x', '{}', '{}', now() - interval '29 days')`;
  // One id in two scopes (two queues bound to one topic): only the old row goes, not the other queue's.
  await t.sql`insert into outbox_received (message_id, queue, destination, body, headers, received_at) values
    ('shared', 'orders-email', '/topic/x', '{}', '{}', now() - interval '31 days'),
    ('shared', 'orders-stats', '/topic/x', '{}', '{}', now() - interval '1 day')`;
  const config = testConfig(t.url);
  config.retention.batchSize = 10;
  const { consumer, running } = startConsumer({ db: t.db, config, handler: () => {}, destination: `/topic/${queue}`, queue });
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_received where received_at < now() - interval '30 days'`)[0]!.n === 0, 10_000);
  await consumer.stop();
  await running;
  const left = await t.sql`select message_id, queue from outbox_received order by message_id`;
  assert.equal(left.map((r) => [r.message_id, r.queue]), [['recent', ''], ['shared', 'orders-stats']]);
  const runs = await t.sql`select task from outbox_maintenance`;
  assert.equal(runs.map((r) => r.task), ['retention:outbox_received'], 'the consumer tidies the inbox only');
});

test('a missing inbox table fails run() with E_DATABASE at once instead of retrying every message', async () => {
  const bare = await createTestDatabase({ migrate: false });
  try {
    const { consumer, running } = startConsumer({ db: bare.db, config: testConfig(bare.url), handler: () => {}, destination: `/topic/${queue}`, queue });
    const error = await running.then(() => undefined, (e: unknown) => e);
    assert.ok(isOutboxError(error, 'E_DATABASE'), String(error));
    assert.match((error as Error).message, /outbox migrate/);
    await consumer.stop();
  } finally {
    await bare.drop();
  }
});

test.run();

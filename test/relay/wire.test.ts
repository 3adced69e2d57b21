/**
 * A row written by hand or by another tool, without the dop-msg-* headers `publish()` stores, still goes
 * out with a stable `dop-msg-id` (the row id: consumers deduplicate on it), its destination and type;
 * headers that are present are never overridden.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRelay } from '../../src/relay/relay.js';
import { silentLogger } from '../../src/log/logger.js';
import { sendHeaders } from '../../src/wire/headers.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from './rows.js';
import { readQueue } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-wire');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(queue);
  await t.drop();
});

test('missing identifying headers default from the row; present ones win', () => {
  const row = { id: 'a7d3c1e0-0000-4000-8000-000000000001', destination: '/queue/x' };
  const defaulted = sendHeaders({}, row);
  assert.is(defaulted['dop-msg-id'], row.id);
  assert.is(defaulted['dop-msg-destination'], '/queue/x');
  assert.is(defaulted['dop-msg-type'], 'Published');
  const kept = sendHeaders({ 'dop-msg-id': 'given', 'dop-msg-type': 'Custom', 'dop-msg-destination': '/queue/y' }, row);
  assert.is(kept['dop-msg-id'], 'given');
  assert.is(kept['dop-msg-type'], 'Custom');
  assert.is(kept['dop-msg-destination'], '/queue/y');
});

test("a hand-inserted row with headers '{}' arrives with dop-msg-id = its id", async () => {
  const id = randomUUID();
  await t.sql`insert into outbox_published (id, destination, body, headers) values (${id}, ${`/queue/${queue}`}, '{"n":1}'::jsonb, '{}'::jsonb)`;
  const config = testConfig(t.url);
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(async () => (await t.sql`select 1 from outbox_published where status = 'sent'`).length === 1, 20_000);
  } finally {
    await relay.stop();
    await running;
  }
  const [message] = await readQueue(config, queue, 1);
  assert.is(message!.headers['dop-msg-id'], id);
  assert.is(message!.headers['dop-msg-destination'], `/queue/${queue}`);
  assert.is(message!.headers['dop-msg-type'], 'Published');
});

test.run();

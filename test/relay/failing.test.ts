/**
 * A destination the broker keeps refusing (PRECONDITION_FAILED: the queue exists with other arguments)
 * ends `failed` after relay.maxAttempts, with backoff between attempts, while other rows keep flowing;
 * `outbox retry` then re-queues it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { retryFailed } from '../../src/admin/retry.js';
import { createRelay } from '../../src/relay/relay.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countSent, insertRows, testConfig } from './rows.js';
import { countIds, readQueue } from './support.js';

let t: TestDatabase;
const bad = uniqueName('relay-refused');
const good = uniqueName('relay-flowing');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(bad);
  deleteQueue(good);
  await t.drop();
});

test('a refused destination ends failed after maxAttempts with backoff; other rows keep flowing', async () => {
  const config = testConfig(t.url, { relay: { maxAttempts: 3, retryBackoff: { base: 2, max: 2 } }, broker: { maxBackoff: 1 } });
  // The queue exists with x-max-length; the relay's plain SEND to /queue/<bad> re-declares it without.
  const s = await connect({ broker: config.broker, logger: silentLogger });
  s.subscribe(`/queue/${bad}`, { 'x-max-length': '10', durable: 'true', 'auto-delete': 'false' }, () => {});
  await s.disconnect();

  const [refused] = await insertRows(t.db, `/queue/${bad}`, 1);
  const before = await insertRows(t.db, `/queue/${good}`, 100);
  // Each attempt is a SEND to the refused queue, seen as it leaves (not from the relay's own log lines).
  const attempts: number[] = [];
  config.broker.onFrame = (direction, command, headers) => {
    if (direction === 'out' && command === 'SEND' && headers.destination === `/queue/${bad}`) attempts.push(Date.now());
  };
  const failuresOfBad = () => attempts;
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(() => failuresOfBad().length >= 1, 20_000);
    // Written while the refused row waits out its backoff: they must not wait behind it.
    const after = await insertRows(t.db, `/queue/${good}`, 100);
    const goodIds = [...before, ...after].map((r) => r.id);
    await waitFor(async () => (await countSent(t.sql, goodIds)) === goodIds.length, 20_000);
    const [meanwhile] = await t.sql`select status from outbox_published where id = ${refused!.id}`;
    assert.is(meanwhile!.status, 'pending', 'the good rows were all sent while the refused row was still being retried');

    await waitFor(async () => (await t.sql`select 1 from outbox_published where id = ${refused!.id} and status = 'failed'`).length === 1, 30_000);
    const [row] = await t.sql`select attempts, last_error from outbox_published where id = ${refused!.id}`;
    assert.is(row!.attempts, 3, 'exactly maxAttempts attempts');
    assert.match(String(row!.last_error), /PRECONDITION_FAILED|inequivalent/, "the broker's message is kept on the row");

    const times = failuresOfBad();
    assert.is(times.length, 3, 'one SEND per attempt');
    // Backoff min(2·2^(n-1), 2) s with jitter in [0.5, 1]: at least 1 s between attempts.
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 1000, `attempt ${i + 1} came ${times[i]! - times[i - 1]!} ms after the previous`);

    const counts = countIds(await readQueue(config, good, goodIds.length));
    for (const id of goodIds) assert.ok(counts.has(id), 'every good row arrived');
    const [others] = await t.sql`select count(*)::int as n from outbox_published where status = 'failed' and id <> ${refused!.id}`;
    assert.is(others!.n, 0, "no bystander of the refused row's ERROR ended failed");

    // Mend the cause (drop the conflicting queue); `retry` re-queues and wakes the relay.
    deleteQueue(bad);
    assert.is(await retryFailed(t.db, config.tables, { destination: `/queue/${bad}` }), 1);
    await waitFor(async () => (await t.sql`select 1 from outbox_published where id = ${refused!.id} and status = 'sent'`).length === 1, 20_000);
  } finally {
    await relay.stop();
    await running;
  }
});

test.run();

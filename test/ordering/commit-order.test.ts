/**
 * Commit order within a key. The per-key counter's upsert locks the key until the writer commits, so a second
 * writer of the same key waits for the first: a transaction that took key K's first position and commits last
 * still commits before the one that writes K's second event, and the relay sends K's events in that order.
 * Without the key (the case the counter exists for), the later writer commits first and its row is sent first.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRelay } from '../../src/relay/relay.js';
import { publish } from '../../src/publish/publish.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, testConfig } from '../relay/rows.js';
import { readQueue } from '../relay/support.js';
import { silentLogger } from '../../src/log/logger.js';

let t: TestDatabase;
const queue = uniqueName('ordering-commit');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(queue);
  await t.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a writer of key K's first event that commits last: K's second writer waits for it, and the relay sends 1 then 2", async () => {
  const destination = `/queue/${queue}`;
  const relay = createRelay({ db: t.db, config: testConfig(t.url), logger: silentLogger });
  const running = relay.run();
  try {
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((r) => (releaseA = r));
    let aWrote!: () => void;
    const aHasWritten = new Promise<void>((r) => (aWrote = r));
    const a = t.db.transaction(async (tx) => {
      await publish(tx, { destination, body: { writer: 'A' }, key: 'K' });
      aWrote();
      await aMayCommit;
    });
    await aHasWritten;
    let bPublished = false;
    const b = t.db.transaction(async (tx) => {
      await publish(tx, { destination, body: { writer: 'B' }, key: 'K' });
      bPublished = true;
    });
    await sleep(500);
    assert.is(bPublished, false, "B's write of key K waits while A (which took K's first position) is open");
    const [early] = await t.sql`select count(*)::int as n from outbox_published`;
    assert.is(early!.n, 0, 'nothing committed yet');
    releaseA();
    await Promise.all([a, b]);
    await waitFor(async () => (await countByStatus(t.sql)).sent === 2, 15_000);
    const messages = await readQueue(testConfig(t.url), queue, 2, { settleMs: 200 });
    assert.equal(messages.map((m) => [JSON.parse(m.body.toString()).writer, m.headers['outbox-key'], m.headers['outbox-key-seq']]), [
      ['A', 'K', '1'],
      ['B', 'K', '2'],
    ]);
  } finally {
    await relay.stop();
    await running;
  }
});

test('without a key nothing waits: the later writer commits first (what the key exists for)', async () => {
  const destination = `/queue/${queue}-plain`;
  let releaseA!: () => void;
  const aMayCommit = new Promise<void>((r) => (releaseA = r));
  let aWrote!: () => void;
  const aHasWritten = new Promise<void>((r) => (aWrote = r));
  const a = t.db.transaction(async (tx) => {
    await publish(tx, { destination, body: { writer: 'A' } });
    aWrote();
    await aMayCommit;
  });
  await aHasWritten;
  await t.db.transaction((tx) => publish(tx, { destination, body: { writer: 'B' } }));
  const [committed] = await t.sql`select body->>'writer' as writer from outbox_published where destination = ${destination}`;
  assert.is(committed!.writer, 'B', 'B committed while A, which wrote first, is still open');
  releaseA();
  await a;
  deleteQueue(`${queue}-plain`);
});

test('a rolled-back keyed write leaves no gap: the next writer of the key takes the same position', async () => {
  const destination = `/queue/${queue}-rollback`;
  await t.db
    .transaction(async (tx) => {
      await publish(tx, { destination, body: { n: 0 }, key: 'R' });
      throw new Error('roll back');
    })
    .catch(() => {});
  await t.db.transaction((tx) => publish(tx, { destination, body: { n: 1 }, key: 'R' }));
  const rows = await t.sql`select key_seq::int as s, headers->>'outbox-key-seq' as h from outbox_published where destination = ${destination}`;
  assert.equal(rows.map((r) => [r.s, r.h]), [[1, '1']]);
});

test.run();

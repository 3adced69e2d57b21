/**
 * Wake-ups (README "How relays wake up"): producers NOTIFY only while a relay is listed as asleep in the idle table; an
 * asleep relay is woken by a commit long before its poll; a busy relay unlists itself; an expired listing
 * stops the notifications; and the race between a listing and a commit never loses a row.
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaults } from '../../src/config/defaults.js';
import type { OutboxDb } from '../../src/db/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { createPace } from '../../src/relay/pace.js';
import { createIdleStatements } from '../../src/relay/idle-sql.js';
import { createRelay } from '../../src/relay/relay.js';
import { createWake } from '../../src/relay/wake.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertRows, testConfig } from './rows.js';
import { countIds, readQueue } from './support.js';

let t: TestDatabase;
let listener: postgres.Sql;
const queues: string[] = [];
test.before(async () => {
  t = await createTestDatabase();
  listener = postgres(t.url, { max: 1, onnotice: () => {} });
});
test.after(async () => {
  for (const q of queues) deleteQueue(q);
  await listener.end({ timeout: 5 });
  await t.drop();
});

const listings = async () => (await t.sql`select relay_id, expires_at > now() as live from outbox_published_idle`).map((r) => ({ id: r.relay_id as string, live: r.live as boolean }));

/**
 * The notifications an insert of one row sent on channel `outbox_published`, without waiting on a clock:
 * after the insert commits, a marker NOTIFY from another session; Postgres delivers notifications in commit
 * order, so whatever the insert sent has arrived once the marker has.
 */
async function notificationsOfOneInsert(): Promise<string[]> {
  const got: string[] = [];
  let marked!: () => void;
  const marker = new Promise<void>((resolve) => (marked = resolve));
  const { unlisten } = await listener.listen('outbox_published', (payload) => (payload === 'marker' ? marked() : got.push(payload)));
  try {
    await insertRows(t.db, `/queue/${uniqueName('wake-unsent')}`, 1);
    await t.sql`select pg_notify('outbox_published', 'marker')`;
    await marker;
    return got;
  } finally {
    await unlisten();
    await t.sql`delete from outbox_published`;
  }
}

test('an insert sends no NOTIFY while no relay is listed, one while a relay is, none once the listing expired', async () => {
  await t.sql`delete from outbox_published_idle`;
  assert.equal(await notificationsOfOneInsert(), [], 'nobody asleep: no NOTIFY');

  const relayId = randomUUID();
  await t.sql`insert into outbox_published_idle values (${relayId}, now() + interval '1 minute')`;
  assert.equal(await notificationsOfOneInsert(), [''], 'a relay asleep: one NOTIFY');

  await t.sql`update outbox_published_idle set expires_at = now() - interval '1 second' where relay_id = ${relayId}`;
  assert.equal(await notificationsOfOneInsert(), [], 'the listing expired (its relay died): no NOTIFY');
  await t.sql`delete from outbox_published_idle`;
});

test('pace: quiet looks list the relay, a commit then wakes it through NOTIFY, a full claim unlists it', async () => {
  const wake = createWake({ db: t.db, channel: 'outbox_published', logger: silentLogger });
  await wake.start();
  const relayId = randomUUID();
  const pace = createPace({ statements: createIdleStatements(t.db, defaults.tables), wake, batchSize: 10, pollInterval: 60, logger: silentLogger, relayId });
  const signal = new AbortController().signal;
  try {
    await pace.after(0, signal);
    await pace.after(0, signal);
    assert.equal(await listings(), [], 'two empty looks: still polling, not listed');
    await pace.after(0, signal);
    assert.equal(await listings(), [{ id: relayId, live: true }], 'the third empty look lists it');
    await pace.after(0, signal); // the second look, a tick later, for commits that raced the listing
    assert.ok(pace.listed);

    // Asleep with a 60 s poll: only the insert's NOTIFY can end this sleep within the test's 10 s.
    wake.clear();
    const asleep = pace.after(0, signal).then(() => 'woken');
    await insertRows(t.db, `/queue/${uniqueName('wake-pace')}`, 1);
    const outcome = await Promise.race([asleep, new Promise((r) => setTimeout(() => r('still asleep after 10 s'), 10_000).unref())]);
    assert.is(outcome, 'woken');

    await pace.after(10, signal);
    assert.equal(await listings(), [], 'a full claim: busy, unlisted');
    assert.not.ok(pace.listed);
  } finally {
    await pace.stop();
    await wake.stop();
    await t.sql`delete from outbox_published`;
  }
});

test('an idle relay lists itself and is woken by a commit long before its 60 s poll; stopping removes its listing', async () => {
  const queue = uniqueName('wake-idle');
  queues.push(queue);
  const config = testConfig(t.url, { relay: { pollInterval: 60 } });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(async () => (await listings()).some((l) => l.live));
    const [row] = await insertRows(t.db, `/queue/${queue}`, 1);
    const [m] = await readQueue(config, queue, 1, { timeoutMs: 10_000, settleMs: 0 });
    assert.is(m!.headers['dop-msg-id'], row!.id);
  } finally {
    await relay.stop();
    await running;
  }
  assert.equal(await listings(), [], 'a stopped relay is not listed');
});

test('a busy relay unlists itself while it drains a backlog, and lists itself again once it is done', async () => {
  const queue = uniqueName('wake-busy');
  queues.push(queue);
  const config = testConfig(t.url, { relay: { batchSize: 10, pollInterval: 60 } });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(async () => (await listings()).some((l) => l.live));
    const rows = await insertRows(t.db, `/queue/${queue}`, 5000);
    // Watch the idle table while the relay drains (hundreds of full claims).
    let seenUnlisted = false;
    await waitFor(async () => {
      const pending = (await countByStatus(t.sql)).pending ?? 0;
      if (pending > 0 && (await listings()).length === 0) seenUnlisted = true;
      return pending === 0;
    }, 60_000, 5);
    assert.ok(seenUnlisted, 'not listed while claims come back full');
    await waitFor(async () => (await listings()).some((l) => l.live));
    const counts = countIds(await readQueue(config, queue, rows.length, { settleMs: 0 }));
    assert.is(counts.size, rows.length);
  } finally {
    await relay.stop();
    await running;
  }
});

test('under a steady stream of commits the relay polls instead of being notified: most commits send no NOTIFY, and every row is sent', async () => {
  const queue = uniqueName('wake-stream');
  queues.push(queue);
  const destination = `/queue/${queue}`;
  const config = testConfig(t.url, { relay: { pollInterval: 60 } });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  let notifications = 0;
  const { unlisten } = await listener.listen('outbox_published', () => void notifications++);
  const ids: string[] = [];
  try {
    await waitFor(async () => (await listings()).some((l) => l.live));
    // 150 commits of 100 rows, one every few ms: far above the 500 rows/s from which a NOTIFY each is not
    // worth its cost (even on a machine so busy that a commit takes 100 ms).
    const COMMITS = 150;
    for (let i = 0; i < COMMITS; i++) {
      ids.push(...(await insertRows(t.db, destination, 100)).map((r) => r.id));
      await new Promise((r) => setTimeout(r, 2));
    }
    const counts = countIds(await readQueue(config, queue, ids.length, { settleMs: 0 }));
    assert.is(counts.size, ids.length, 'every row arrived (the 60 s poll never had to)');
    assert.ok(notifications < COMMITS / 5, `${notifications} of ${COMMITS} commits notified`);
  } finally {
    await unlisten();
    await relay.stop();
    await running;
  }
});

test('many writers in bursts (some slow to commit) while the relay turns busy, trickling and asleep: every row is sent', async () => {
  const queue = uniqueName('wake-race');
  queues.push(queue);
  const destination = `/queue/${queue}`;
  // A short poll bounds how long a row that raced a listing can wait; the test only asserts that none is lost.
  const config = testConfig(t.url, { relay: { batchSize: 20, pollInterval: 0.5 } });
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const ids: string[] = [];
  try {
    await Promise.all(
      Array.from({ length: 8 }, async (_, writer) => {
        for (let burst = 0; burst < 12; burst++) {
          const size = 1 + ((writer + burst) % 4) * 8;
          for (let i = 0; i < size; i++) {
            await t.db.transaction(async (tx) => {
              const rows = await insertRows(tx as unknown as OutboxDb, destination, 1 + (i % 3));
              ids.push(...rows.map((r) => r.id));
              // Some transactions linger between their insert (the trigger's check) and their commit.
              if ((i + writer) % 5 === 0) await pause(1 + ((i * 7 + writer) % 12));
            });
          }
          // Quiet gaps long enough for the relay to list itself and fall asleep.
          await pause(10 + ((writer * 13 + burst * 7) % 60));
        }
      }),
    );
    const counts = countIds(await readQueue(config, queue, ids.length, { timeoutMs: 60_000, settleMs: 300 }));
    assert.equal([...counts.keys()].sort(), [...ids].sort(), 'every row arrived');
    await waitFor(async () => {
      const [r] = await t.sql`select count(*)::int as n from outbox_published where destination = ${destination} and status = 'sent'`;
      return r!.n === ids.length;
    });
  } finally {
    await relay.stop();
    await running;
  }
});

test.run();

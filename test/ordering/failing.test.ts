/**
 * A key whose head fails holds only that key. Ten keys publish to a destination the broker refuses (a /queue/
 * declared with other arguments: PRECONDITION_FAILED); 990 keys publish to a healthy one. The healthy keys
 * all finish, in order; the refused keys send nothing and their heads end `failed` (maxAttempts 3 and a short backoff: the
 * point here is what happens after the failure, not how long it takes). `outbox status` lists them as held.
 * Once the queue is fixed and `outbox retry` runs, the held keys finish, each in order, no gap.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { publish } from '../../src/publish/publish.js';
import { createRelay } from '../../src/relay/relay.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testConfig } from '../relay/rows.js';
import { runCli, writeConfigFile } from '../relay/support.js';
import { subscribe, versionProblems } from './helpers.js';

let t: TestDatabase;
const good = uniqueName('ordering-good');
const bad = uniqueName('ordering-bad');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(good);
  deleteQueue(bad);
  await t.drop();
});

const KEYS = 1000;
const HELD = 10;
const EVENTS = 5000;

test('10 keys behind a refused destination wait while 990 others finish; after the fix and `outbox retry` they finish in order', async () => {
  const relaySettings = { maxAttempts: 3, retryBackoff: { base: 0.1, max: 0.2 } };
  const config = testConfig(t.url, { relay: relaySettings });
  // /queue/<bad> exists with x-max-length: the relay's plain SEND re-declares it without → PRECONDITION_FAILED.
  const s = await connect({ broker: config.broker, logger: silentLogger });
  s.subscribe(`/queue/${bad}`, { 'x-max-length': '10', durable: 'true', 'auto-delete': 'false' }, () => {});
  await s.disconnect();

  const healthy = subscribe(good, EVENTS - EVENTS / KEYS * HELD, 120);
  await healthy.ready;
  const versions = new Map<number, number>();
  // Transactions of 10 events, keys at random; keys 0–9 go to the refused queue.
  for (let i = 0; i < EVENTS; i += 10) {
    await t.db.transaction(async (tx) => {
      for (let j = 0; j < 10; j++) {
        const k = (i + j) % KEYS;
        const version = (versions.get(k) ?? 0) + 1;
        versions.set(k, version);
        await publish(tx, { destination: `/queue/${k < HELD ? bad : good}`, body: { key: `agg-${k}`, version }, key: `agg-${k}` });
      }
    });
  }
  const heldRows = (EVENTS / KEYS) * HELD;
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  const file = writeConfigFile({ database: { url: t.url }, relay: relaySettings });
  try {
    const arrivals = await healthy.done;
    assert.is(new Set(arrivals.map((a) => a.id)).size, EVENTS - heldRows, 'the healthy keys all arrived');
    assert.equal(versionProblems(arrivals).slice(0, 10), [], 'the healthy keys, in order');
    // Each held key's head ends `failed`; what is behind it waits, pending (or failed too, if it was charged
    // for the destination's refused probes while held).
    await waitFor(async () => {
      const [r] = await t.sql`select count(distinct key)::int as n from outbox_published where status = 'failed'`;
      return r!.n === HELD;
    }, 60_000, 100);
    const [sent] = await t.sql`select count(*)::int as n from outbox_published where destination = ${`/queue/${bad}`} and status = 'sent'`;
    assert.is(sent!.n, 0, 'nothing of the held keys was sent');

    const status = await runCli(['status', '--config', file.path]);
    for (let k = 0; k < HELD; k++) assert.match(status.output, `agg-${k}`, `outbox status lists held key agg-${k}`);

    // The fix: the queue with the wrong arguments goes; the subscriber declares it as the relay will.
    deleteQueue(bad);
    const fixed = subscribe(bad, heldRows, 60);
    await fixed.ready;
    const retried = await runCli(['retry', '--config', file.path]);
    assert.is(retried.code, 0, retried.output);
    const late = await fixed.done;
    assert.is(new Set(late.map((a) => a.id)).size, heldRows, 'the held keys all arrived after the retry');
    assert.equal(versionProblems(late).slice(0, 10), [], 'the held keys, in order, no gap');
  } finally {
    await relay.stop();
    await running;
    file.remove();
  }
});

test.run();

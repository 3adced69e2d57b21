/**
 * The circuit breaker and the probes, above the transport seam (the in-memory broker, real PostgreSQL):
 * a held destination never waits forever. Whether its probes are refused or never confirmed, each failed
 * probe charges every row waiting on the destination one attempt, so they end `failed` after
 * relay.maxAttempts probes; healthy rows beside them flow throughout; a confirmed probe resumes the rest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { createMemoryBroker } from '../../src/transport/memory.js';
import { waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertRows, testConfig } from './rows.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t.drop();
});

const statusOf = async (ids: string[]) =>
  t.sql<{ status: string; attempts: number; last_error: string | null }[]>`select status, attempts, last_error from outbox_published where id = any(${ids}::uuid[])`;

test('two held destinations in one batch — one refused, one whose probes are never confirmed — both fail their rows in bounded time; healthy rows flow', async () => {
  await t.sql`truncate outbox_published`;
  const broker = createMemoryBroker({ receiptTimeoutMs: 300 });
  const refused = '/queue/refused';
  const silent = '/queue/silent';
  broker.refuse(refused);
  broker.refuse(silent);
  const config = testConfig(t.url, { relay: { maxAttempts: 3, retryBackoff: { base: 0.2, max: 0.4 } } });
  const a = await insertRows(t.db, refused, 20);
  const b = await insertRows(t.db, silent, 20);
  const healthy = await insertRows(t.db, '/queue/healthy', 300);
  const relay = createRelay({ db: t.db, config, logger: silentLogger, connect: broker.connect });
  const running = relay.run();
  try {
    // Once the broker has refused it, /queue/silent stops answering: its probes time out without a verdict.
    await waitFor(async () => (await statusOf(b.map((r) => r.id))).some((r) => r.last_error !== null), 10_000);
    broker.accept(silent);
    broker.stall(silent);
    await waitFor(async () => {
      const rows = await statusOf([...a, ...b].map((r) => r.id));
      return rows.every((r) => r.status === 'failed');
    }, 30_000, 100);
    for (const r of await statusOf([...a, ...b].map((r) => r.id))) assert.is(r.attempts, 3, 'each row failed after exactly maxAttempts attempts');
    const sent = (await statusOf(healthy.map((r) => r.id))).filter((r) => r.status === 'sent').length;
    assert.is(sent, healthy.length, 'every healthy row was sent meanwhile');
    assert.is(broker.messages('/queue/healthy').length, healthy.length, 'each healthy row once');
  } finally {
    await relay.stop();
    await running;
  }
});

test('a probe that is accepted resumes the destination: its held rows are sent', async () => {
  await t.sql`truncate outbox_published`;
  const broker = createMemoryBroker();
  const dest = '/queue/comes-back';
  broker.refuse(dest);
  const config = testConfig(t.url, { relay: { retryBackoff: { base: 0.2, max: 0.4 } } });
  const rows = await insertRows(t.db, dest, 50);
  const relay = createRelay({ db: t.db, config, logger: silentLogger, connect: broker.connect });
  const running = relay.run();
  try {
    await waitFor(async () => (await statusOf(rows.map((r) => r.id))).some((r) => r.last_error !== null), 10_000);
    broker.accept(dest);
    await waitFor(async () => (await statusOf(rows.map((r) => r.id))).every((r) => r.status === 'sent'), 20_000, 100);
    assert.is(new Set(broker.messages(dest).map((m) => m.headers['dop-msg-id'])).size, rows.length);
  } finally {
    await relay.stop();
    await running;
  }
});

test.run();

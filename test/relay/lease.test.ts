/**
 * Who owns a claimed row. A claim bumps `attempts`, so fail/release/hold/extend name the claim they act
 * on (id + attempts): a relay whose lease ran out cannot undo another relay's claim. And a broker slow to
 * confirm (a RabbitMQ memory alarm) must not make the relay resend rows whose receipt is still awaited:
 * their lease is extended and a claim never takes a row this relay has in flight.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { createRelayStatements } from '../../src/relay/sql.js';
import { waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startFakeStompServer, type FakeStompServer } from '../helpers/fake-stomp-server.js';
import { insertRows, testConfig } from './rows.js';

let t: TestDatabase;
let server: FakeStompServer | undefined;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await server?.close();
  await t.drop();
});

const policy = { maxAttempts: 5, base: 1, max: 1 };

test("a stale relay's fail, release, hold and extend leave another relay's claim alone", async () => {
  const config = testConfig(t.url);
  const a = createRelayStatements(t.db, config.tables);
  const b = createRelayStatements(t.db, config.tables);
  const [row] = await insertRows(t.db, '/queue/lease-ownership', 1);
  const [claimedByA] = await a.claim(10, 0.05);
  assert.is(claimedByA!.attempts, 1);
  await new Promise((r) => setTimeout(r, 200));
  // A's lease ran out; B takes the row.
  const [claimedByB] = await b.claim(10, 60);
  assert.is(claimedByB?.id, row!.id);
  assert.is(claimedByB!.attempts, 2);
  const snapshot = async () => (await t.sql`select status, attempts, last_error, next_attempt_at from outbox_published where id = ${row!.id}`)[0]!;
  const before = await snapshot();

  await a.fail([claimedByA!], 'stale failure', { ...policy, maxAttempts: 1 });
  await a.release([claimedByA!], true, 'stale release');
  await a.hold([claimedByA!], 0);
  await a.extend([claimedByA!], 0);
  assert.equal(await snapshot(), before, "A's statements matched nothing: B's claim is intact");

  // B's own verbs do apply.
  await b.fail([claimedByB!], 'refused', policy);
  const after = await snapshot();
  assert.is(after.last_error, 'refused');
  assert.is(after.status, 'pending');
});

test('a claim skips rows this relay still has in flight', async () => {
  const config = testConfig(t.url);
  const s = createRelayStatements(t.db, config.tables);
  await t.sql`delete from outbox_published`;
  const rows = await insertRows(t.db, '/queue/lease-inflight', 3);
  const first = await s.claim(10, 0);
  assert.is(first.length, 3);
  // Lease 0: all due again at once; the two still in flight are not taken.
  const again = await s.claim(10, 0, [rows[0]!.id, rows[1]!.id]);
  assert.equal(again.map((r) => r.id), [rows[2]!.id]);
});

test('receipts slower than the lease: no row is sent twice', async () => {
  await t.sql`delete from outbox_published`;
  const sends = new Map<string, number>();
  server = await startFakeStompServer(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    for (;;) {
      const frame = await peer.expect();
      if (frame.command === 'SEND') {
        const id = frame.headers['dop-msg-id']!;
        sends.set(id, (sends.get(id) ?? 0) + 1);
      }
      // A broker under a memory alarm: confirms come, but late (2.5 s, longer than the 1 s lease).
      const receipt = frame.headers.receipt;
      if (receipt) setTimeout(() => peer.frame('RECEIPT', { 'receipt-id': receipt }), frame.command === 'SEND' ? 2500 : 0);
      if (frame.command === 'DISCONNECT') return;
    }
  });
  const config = testConfig(t.url, { relay: { leaseTimeout: 1, pollInterval: 0.05 }, broker: { hosts: [server.host], receiptTimeout: 30 } });
  const rows = await insertRows(t.db, '/queue/lease-slow', 50);
  const relay = createRelay({ db: t.db, config, logger: silentLogger });
  const running = relay.run();
  try {
    await waitFor(async () => (await t.sql`select 1 from outbox_published where status = 'sent'`).length === rows.length, 20_000);
  } finally {
    await relay.stop();
    await running;
  }
  assert.is(sends.size, rows.length, 'every row sent');
  const twice = [...sends.values()].filter((n) => n > 1).length;
  assert.is(twice, 0, `${twice} rows sent twice while their receipt was awaited`);
});

test.run();

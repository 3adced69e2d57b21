// @serial: a 20 s database outage is a timing measurement; it must not share the machine with other files.
/**
 * After a long database outage the relay resumes within about a second of the database answering again —
 * not after the rest of a backoff it was sleeping. Its database retries back off to database.maxBackoff
 * (30 s by default, used here), and the wait ends at once when the LISTEN connection, which tries every
 * second, is back. (Before: the claim retry borrowed broker.maxBackoff, 3600 s, and after a 10-minute
 * outage the relay slept about 8 minutes more.) The outage is a proxy in front of PostgreSQL cutting
 * every connection and refusing new ones.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { openDatabase } from '../../src/db/open.js';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { deleteQueue, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startProxy } from '../helpers/proxy.js';
import { countSent, insertRows } from './rows.js';

let t: TestDatabase;
const queue = uniqueName('relay-db-outage');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(queue);
  await t.drop();
});

test('a 20 s database outage: the first claim comes within seconds of the database answering again', async () => {
  const proxy = await startProxy({ target: { host: '127.0.0.1', port: 5432 } });
  const url = t.url.replace('127.0.0.1:5432', `${proxy.host}:${proxy.port}`);
  const config = resolveConfig({ database: { url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] }, relay: { progressInterval: 0 } }, {});
  const database = await openDatabase(config);
  const relay = createRelay({ db: database.db, config, logger: silentLogger });
  const running = relay.run();
  const sent = (ids: string[]) => countSent(t.sql, ids);
  try {
    const before = (await insertRows(t.db, `/queue/${queue}`, 50)).map((r) => r.id);
    await waitFor(async () => (await sent(before)) === before.length, 30_000);

    await proxy.cut();
    // Written while the relay cannot reach the database (directly, not through the proxy).
    const during = (await insertRows(t.db, `/queue/${queue}`, 50)).map((r) => r.id);
    // 20 s: long enough that a backoff without the wake-up would still be sleeping — by 0.5 + 1 + 2 + 4 + 8 s
    // (× 0.5…1) the relay is in a wait of up to 16 s; with borrowed broker backoffs (1, 2, 4, 8, 16 s) of up to 16 s.
    await new Promise((r) => setTimeout(r, 20_000));
    await proxy.resume();
    const back = Date.now();
    await waitFor(async () => (await sent(during)) > 0, 60_000, 20);
    const seconds = (Date.now() - back) / 1000;
    console.log(`first row sent ${seconds.toFixed(2)} s after the database answered again`);
    assert.ok(seconds < 4, `the relay resumed ${seconds.toFixed(1)} s after the database came back`);
    await waitFor(async () => (await sent(during)) === during.length, 30_000);
  } finally {
    await relay.stop();
    await running;
    await database.close().catch(() => {});
    await proxy.close();
  }
});

test.run();

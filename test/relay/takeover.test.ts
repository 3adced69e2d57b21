// @serial: kills a relay process and measures how soon another takes its rows over.
/**
 * A relay killed with SIGKILL while it holds leased rows: another relay running beside it takes those rows
 * over within about a second of PostgreSQL ending the dead relay's session — not after relay.leaseTimeout
 * (30 s by default, the setting used here). Every row arrives; duplicates come only from the rows the dead
 * relay had in flight.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertBacklog, testConfig } from './rows.js';
import { countIds, readQueue, spawnCli, writeConfigFile, type RelayProcess } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-takeover');
const started: RelayProcess[] = [];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  deleteQueue(queue);
  await t.drop();
});

test('kill -9 of one relay of two: the other takes its leased rows over at once, not after the 30 s lease', async () => {
  const total = 15_000;
  await insertBacklog(t.sql, `/queue/${queue}`, total);
  const file = writeConfigFile({ database: { url: t.url }, relay: { progressInterval: 0 } });
  try {
    const doomed = spawnCli(['relay', '--config', file.path]);
    const survivor = spawnCli(['relay', '--config', file.path]);
    started.push(doomed, survivor);
    // The doomed relay's lock key, from its row in the relays table.
    const keyOf = async (pid: number) => (await t.sql`select lock_key from outbox_published_relays where pid = ${pid}`)[0]?.lock_key as number | undefined;
    const doomedKey = (await waitFor(() => keyOf(doomed.child.pid!), 30_000))!;
    const leasedBy = async (key: number) =>
      (await t.sql<{ id: string }[]>`select id::text from outbox_published where status = 'pending' and owner = ${key} and next_attempt_at > now()`).map((r) => r.id);
    await waitFor(async () => ((await countByStatus(t.sql)).sent ?? 0) >= 3_000 && (await leasedBy(doomedKey)).length > 0, 60_000, 5);

    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    assert.is(await doomed.exited, 'SIGKILL');
    const held = await leasedBy(doomedKey);
    // Taken over: no row is still waiting out the dead relay's lease.
    await waitFor(async () => (await leasedBy(doomedKey)).length === 0, 30_000, 20);
    const recovery = (Date.now() - killedAt) / 1000;
    console.log(`${held.length} rows leased by the killed relay; taken over ${recovery.toFixed(2)} s after the kill`);
    assert.ok(recovery < 5, `the rows were taken over ${recovery.toFixed(1)} s after the kill (the lease is 30 s)`);

    await waitFor(async () => (await countByStatus(t.sql)).sent === total, 120_000, 100);
    survivor.child.kill('SIGTERM');
    assert.is(await survivor.exited, 0, survivor.output());
    const counts = countIds(await readQueue(testConfig(t.url), queue, total, { timeoutMs: 60_000, settleMs: 1000 }));
    assert.is(counts.size, total, 'every row arrived');
    const strays = [...counts].filter(([id, n]) => n > 1 && !held.includes(id));
    assert.equal(strays, [], 'duplicates only among the rows the killed relay had leased');
  } finally {
    file.remove();
  }
});

test.run();

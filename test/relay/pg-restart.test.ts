// @serial: restarts PostgreSQL ten times and terminates backends: every other test would feel it.
/**
 * `outbox relay` survives PostgreSQL restarts and terminated backends under load: it does not exit, no
 * query hangs, and every committed row still reaches the broker. (With postgres.js under it, the first
 * restart ended the process with an uncatchable TypeError — measured 5 of 5; the CLI uses node-postgres.)
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { rowHeaders, testConfig } from './rows.js';
import { countIds, readQueue, spawnCli, writeConfigFile, type RelayProcess } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-pg-restart');
const started: RelayProcess[] = [];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  deleteQueue(queue);
  await t.drop();
});

const restartPostgres = () => execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'restart'], { stdio: 'ignore' });

test('10 PostgreSQL restarts and a storm of pg_terminate_backend under a steady stream: the relay stays up and sends every row', async () => {
  // The test's own connections: node-postgres with error listeners, as the library's (postgres.js would crash here).
  const pool = new pg.Pool({ connectionString: t.url, max: 4 });
  pool.on('error', () => {});
  pool.on('connect', (c) => c.on('error', () => {}));
  const file = writeConfigFile({ database: { url: t.url }, relay: { progressInterval: 0 } });
  const relay = spawnCli(['relay', '--config', file.path]);
  started.push(relay);
  const destination = `/queue/${queue}`;
  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      const id = randomUUID();
      try {
        await pool.query('insert into outbox_published (id, destination, body, headers) values ($1, $2, $3, $4)', [id, destination, JSON.stringify({ id }), JSON.stringify(rowHeaders(id, destination))]);
        written++;
      } catch {
        // The database is restarting: the insert did not happen (or its outcome is unknown: counted from the table below).
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await waitFor(() => written >= 200, 30_000);
    for (let i = 0; i < 10; i++) {
      restartPostgres();
      await new Promise((r) => setTimeout(r, 1500));
      assert.is(relay.child.exitCode, null, `the relay is still running after restart ${i + 1}:\n${relay.output()}`);
    }
    // Terminate every backend of the test database but our own, every 200 ms for 5 s.
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      await pool.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()').catch(() => {});
    }
    assert.is(relay.child.exitCode, null, `the relay is still running after the terminate storm:\n${relay.output()}`);
    writing = false;
    await writer;
    const total = Number((await pool.query('select count(*)::int as n from outbox_published')).rows[0].n);
    await waitFor(async () => Number((await pool.query(`select count(*)::int as n from outbox_published where status = 'sent'`)).rows[0].n) === total, 90_000, 200);
    relay.child.kill('SIGTERM');
    assert.is(await relay.exited, 0, relay.output());
    const ids = (await pool.query('select id::text from outbox_published')).rows.map((r: { id: string }) => r.id);
    const counts = countIds(await readQueue(testConfig(t.url), queue, ids.length, { timeoutMs: 60_000, settleMs: 1000 }));
    for (const id of ids) assert.ok(counts.has(id), 'every committed row arrived');
    console.log(`${ids.length} rows written across 10 restarts and a terminate storm; ${[...counts.values()].filter((n) => n > 1).length} arrived twice`);
  } finally {
    writing = false;
    await writer;
    await pool.end().catch(() => {});
    file.remove();
  }
});

test.run();

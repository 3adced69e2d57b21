// @serial: restarts PostgreSQL ten times and terminates backends; every other test would see it
/**
 * `outbox consume` with a handler written as the README recommends — `(payload, { tx })`, no `db` of its
 * own — under a steady stream of messages while PostgreSQL is restarted ten times, then while its sessions
 * are terminated every 200 ms: the process keeps running, consumption resumes after each restart (no query
 * left hanging), no message is dead-lettered, and every message has exactly one effect (the effects table
 * has no unique key, so an effect applied twice would show). SIGTERM then exits 0.
 *
 * Prints one JSON line: the time from each restart's return to the consumer's next committed effect.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { CONFIG, CLI, runCli, type Child } from './helpers/cli.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, sleep, testConfig } from './helpers/env.js';

const RESTARTS = 10;
const APP = 'outbox-consume-restart-test';
let t: TestDatabase;
let check: pg.Pool;
let pub: StompSession;
let child: Child | undefined;
const queue = uniqueName('pg-restart');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  // The test's own queries go through node-postgres too: postgres.js can crash a process when PostgreSQL restarts.
  await t.sql.end();
  check = new pg.Pool({ connectionString: t.url, max: 2, connectionTimeoutMillis: 5_000 });
  check.on('error', () => {});
  check.on('connect', (c) => c.on('error', () => {}));
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  child?.process.kill('SIGKILL');
  await pub?.disconnect();
  await check?.end();
  cleanupQueues(queue);
  await t?.drop();
});

const restartPostgres = (): Promise<void> =>
  new Promise((resolve, reject) =>
    execFile('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'restart'], (error, _out, stderr) => (error ? reject(new Error(`${error.message} ${stderr}`)) : resolve())),
  );

/** Committed effects so far, or undefined while PostgreSQL is away. */
const effectCount = async (): Promise<number | undefined> =>
  check.query('select count(*)::int as n from effects').then((r) => r.rows[0].n as number, () => undefined);

test(`${RESTARTS} PostgreSQL restarts and a terminate storm under load: still running, every message applied exactly once`, async () => {
  assert.ok(CLI);
  await declareQueues(testConfig(t.url, { prefetchCount: 4 }), destination, queue);
  child = runCli(['consume', 'test/consumer/fixtures/tx-handler.ts#onMessage', destination, queue, '--config', CONFIG], {
    DATABASE_URL: `${t.url}?application_name=${APP}`,
    HANDLER_SLEEP_MS: '5',
  });
  await waitFor(() => /consuming .* from queue/.test(child!.output()), 20_000);

  // A steady stream, about 50 messages a second, for the whole test.
  const ids: string[] = [];
  let publishing = true;
  const stream = (async () => {
    while (publishing) {
      const id = randomUUID();
      ids.push(id);
      // The broker is shared: another test closing every connection must not end this one.
      for (;;) {
        try {
          await publish(pub, destination, { n: ids.length }, dop(id));
          break;
        } catch {
          await sleep(200);
          pub = await publisher(testConfig(t.url)).catch(() => pub);
        }
      }
      await sleep(20);
    }
  })();

  const resumedMs: number[] = [];
  try {
    for (let i = 0; i < RESTARTS; i++) {
      // Under load before each restart: the consumer is mid-handler when PostgreSQL goes.
      const before = (await waitFor(effectCount, 30_000))!;
      await waitFor(async () => ((await effectCount()) ?? 0) >= before + 20, 30_000);
      await restartPostgres();
      const back = performance.now();
      const at = (await waitFor(effectCount, 30_000))!;
      // No query left hanging: the consumer commits again, soon.
      await waitFor(async () => ((await effectCount()) ?? 0) > at, 30_000, 20);
      resumedMs.push(Math.round(performance.now() - back));
      assert.is(child.process.exitCode, null, `still running after restart ${i + 1}: ${child.output().slice(-2000)}`);
    }

    // Then its sessions terminated every 200 ms for 5 s, mid-handler.
    const storm = Date.now() + 5_000;
    let killed = 0;
    while (Date.now() < storm) {
      const r = await check
        .query(`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and application_name = $2`, [t.name, APP])
        .catch(() => ({ rows: [{ n: 0 }] }));
      killed += r.rows[0].n as number;
      await sleep(200);
    }
    assert.ok(killed > 0, 'the storm ended some of the consumer sessions');
  } finally {
    publishing = false;
    await stream;
  }

  await waitFor(async () => ((await effectCount()) ?? 0) >= ids.length, 120_000, 200);
  await waitFor(() => queueCounts(queue)?.messages === 0, 30_000, 500);
  assert.is(child.process.exitCode, null, 'still running');

  const { rows } = await check.query('select message_id, count(*)::int as n from effects group by message_id');
  const twice = rows.filter((r) => r.n !== 1);
  assert.equal(twice, [], 'no effect applied twice');
  assert.is(rows.length, ids.length, 'every message applied');
  assert.equal(queueCounts(`DLQ.${queue}`), { messages: 0, unacked: 0 }, 'nothing dead-lettered for an outage');

  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0, child.output().slice(-2000));
  console.log(JSON.stringify({ figure: 'consume: ms from pg restart returning to the next committed effect', restarts: RESTARTS, messages: ids.length, resumedMs }));
});

test.run();

// @serial: kills processes, closes every broker connection, stops RabbitMQ and restarts PostgreSQL
/**
 * The whole loop under every fault in turn, with the settings a user gets: two `outbox relay` processes and
 * one `outbox consume` (a `(payload, { tx })` handler that inserts one effect row) over a steady stream of
 * 20,000 events written by short transactions, while, one after another,
 *
 *   1. one relay is killed with SIGKILL and started again,
 *   2. RabbitMQ closes every connection (`rabbitmqctl close_all_connections`),
 *   3. RabbitMQ stops and starts (`stop_app` / `start_app`),
 *   4. the consumer is killed with SIGKILL and started again,
 *   5. PostgreSQL restarts.
 *
 * Then every event has exactly one effect (the effects table has no unique key, so a second effect would
 * show), every outbox row is `sent`, and every process exits 0 on SIGTERM.
 *
 * Prints one JSON line: how long the run took after the last fault until the last effect committed.
 */
import { execFile } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { openDatabase, type OpenedDatabase } from '../../src/db/open.js';
import { runTransaction } from '../../src/db/transaction.js';
import { writeOutbox } from '../../src/publish/write.js';
import { STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { CONFIG, runCli, type Child } from '../consumer/helpers/cli.js';
import { cleanupQueues, declareQueues, sleep, testConfig } from '../consumer/helpers/env.js';
import { writeConfigFile } from '../relay/support.js';

const TOTAL = 20_000;
const PER_TX = 10;
const HANDLER = 'test/consumer/fixtures/tx-handler.ts#onMessage';

let t: TestDatabase;
let opened: OpenedDatabase;
const queue = uniqueName('fault-run');
const destination = `/topic/${queue}`;
const children: Child[] = [];
const relayConfig = { path: '', remove: () => {} };

/** Runs a command to completion, without blocking the event loop (the writer keeps writing meanwhile). */
const run = (command: string, ...args: string[]): Promise<void> =>
  new Promise((resolve, reject) =>
    execFile(command, args, { timeout: 120_000 }, (error, _out, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${error.message} ${stderr}`)) : resolve())),
  );

const startRelay = (): Child => {
  const child = runCli(['relay', '--config', relayConfig.path]);
  children.push(child);
  return child;
};
const startConsumer = (): Child => {
  const child = runCli(['consume', HANDLER, destination, queue, '--config', CONFIG], { DATABASE_URL: t.url });
  children.push(child);
  return child;
};
const kill9 = async (child: Child): Promise<void> => {
  child.process.kill('SIGKILL');
  assert.is(await child.exited, 'SIGKILL');
};

/** A query on the test's own node-postgres pool, or undefined while PostgreSQL is away. */
const count = (query: string): Promise<number | undefined> =>
  opened.db.execute(sql.raw(query)).then((r) => Number((r as unknown as { rows: Array<{ n: number }> }).rows[0]!.n), () => undefined);

test.before(async () => {
  t = await createTestDatabase();
  await t.sql`create table effects (message_id text not null, body jsonb, correlation_id text, at timestamptz not null default now())`;
  // Written in the same transaction as each batch of events, so a retried batch whose COMMIT's answer was
  // lost (PostgreSQL restarting) is recognised by its key and not written twice.
  await t.sql`create table batches (n int primary key)`;
  // Everything from here on uses node-postgres, as the CLI does: postgres.js can end a process when
  // PostgreSQL restarts (see src/db/open.ts).
  await t.sql.end();
  opened = await openDatabase(resolveConfig({ database: { url: t.url } }, {}), { poolSize: 2, connectTimeout: 5 });
  Object.assign(relayConfig, writeConfigFile({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] } }));
});

test.after(async () => {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  relayConfig.remove();
  await opened?.close();
  cleanupQueues(queue);
  await t?.drop();
});

test('two relays and a consumer over 20,000 events through kill -9, broker drops and restarts, PostgreSQL restart: one effect each', async () => {
  await declareQueues(testConfig(t.url), destination, queue);
  let consumer = startConsumer();
  let relayA = startRelay();
  const relayB = startRelay();
  await waitFor(() => /consuming .* from queue/.test(consumer.output()), 30_000);

  // The stream: 2,000 transactions of 10 events, about 1,000 events a second, retried through outages.
  let written = 0;
  const writer = (async () => {
    for (let n = 0; n < TOTAL / PER_TX; n++) {
      const drafts = Array.from({ length: PER_TX }, (_, i) => ({ destination, body: { n, i } }));
      for (;;) {
        try {
          await runTransaction(opened.db, async (tx) => {
            await tx.execute(sql`insert into batches (n) values (${n})`);
            await writeOutbox(tx, drafts);
          });
          break;
        } catch (error) {
          if ((error as { code?: string }).code === '23505') break; // this batch committed; its answer was lost
          await sleep(100);
        }
      }
      written += PER_TX;
      await sleep(8);
    }
  })();

  const faults: Array<[string, () => Promise<void>]> = [
    ['kill -9 of one relay, restarted', async () => {
      await kill9(relayA);
      relayA = startRelay();
    }],
    ['rabbitmqctl close_all_connections', () => run('rabbitmqctl', '-q', 'close_all_connections', 'fault-run test')],
    ['rabbitmqctl stop_app / start_app', async () => {
      await run('rabbitmqctl', '-q', 'stop_app');
      try {
        await sleep(2_000);
      } finally {
        await run('rabbitmqctl', '-q', 'start_app');
      }
    }],
    ['kill -9 of the consumer, restarted', async () => {
      await kill9(consumer);
      consumer = startConsumer();
    }],
    ['PostgreSQL restart', () => run('pg_ctlcluster', '--skip-systemctl-redirect', '15', 'main', 'restart')],
  ];
  for (const [name, fault] of faults) {
    // Each fault strikes while events are still being written and relayed.
    const before = written;
    await waitFor(() => written >= before + 2_000, 60_000, 50);
    console.log(`# fault: ${name} (${written} events written)`);
    await fault();
  }
  const lastFault = performance.now();
  await writer;

  const done = async () => (await count('select count(*)::int as n from effects')) === TOTAL &&
    (await count(`select count(*)::int as n from outbox_published where status = 'sent'`)) === TOTAL;
  await waitFor(done, 180_000, 250);
  const settledMs = Math.round(performance.now() - lastFault);

  assert.is(await count('select count(*)::int as n from batches'), TOTAL / PER_TX, 'every batch written once');
  assert.is(await count('select count(*)::int as n from outbox_published'), TOTAL, 'every event has its row');
  assert.is(await count('select count(distinct message_id)::int as n from effects'), TOTAL, 'every event took effect');
  assert.is(await count(`select count(*)::int as n from effects e join outbox_published o on o.id::text = e.message_id`), TOTAL, 'each effect is one of the events');
  // A late redelivery would show as a second effect: give one a moment to arrive.
  await sleep(2_000);
  assert.is(await count('select count(*)::int as n from effects'), TOTAL, 'no event took effect twice');

  for (const c of [relayA, relayB, consumer]) c.process.kill('SIGTERM');
  for (const c of [relayA, relayB, consumer]) assert.is(await c.exited, 0, c.output().slice(-2_000));
  console.log(JSON.stringify({ figure: 'fault-run', events: TOTAL, faults: faults.length, settled_after_last_fault_ms: settledMs }));
});

test.run();

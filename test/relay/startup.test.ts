/**
 * Mistakes at start-up are configuration errors, not outages: `outbox relay` exits 2 within seconds with
 * one line saying what is wrong — a database that does not exist, a broker that refuses the credentials —
 * instead of retrying for ever. With --wait it waits for them as for any outage.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STOMP_HOST, STOMP_PORT } from '../helpers/broker.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, spawnCli, writeConfigFile } from './support.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t.drop();
});

const lastLine = (output: string) => output.trim().split('\n').filter(Boolean).pop() ?? '';

test('a database that does not exist: exit 2 within seconds, one line naming it', async () => {
  const url = ADMIN_URL.replace(/\/[^/]*$/, '/no_such_database_here');
  const file = writeConfigFile({ database: { url } });
  try {
    const started = Date.now();
    const { code, output, stderr } = await runCli(['relay', '--config', file.path]);
    assert.is(code, 2, output);
    assert.ok(Date.now() - started < 15_000, 'within seconds');
    assert.match(lastLine(stderr), /^outbox: .*database "no_such_database_here" does not exist.*--wait/);
  } finally {
    file.remove();
  }
});

test('a broker that refuses the credentials at the first connection: exit 2 within seconds', async () => {
  const file = writeConfigFile({ database: { url: t.url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }], passcode: 'not-the-password' } });
  try {
    const started = Date.now();
    const { code, output, stderr } = await runCli(['relay', '--config', file.path]);
    assert.is(code, 2, output);
    assert.ok(Date.now() - started < 15_000, 'within seconds');
    assert.match(lastLine(stderr), /^outbox: the broker refused the connection: .*(Access refused|access_refused|Bad CONNECT).*broker\.passcode/i);
    assert.not.match(output, /not-the-password/, 'the passcode is never printed');
  } finally {
    file.remove();
  }
});

test('with --wait the same mistake is waited out (the process keeps running, logging the cause once)', async () => {
  const url = ADMIN_URL.replace(/\/[^/]*$/, '/no_such_database_either');
  const file = writeConfigFile({ database: { url } });
  const relay = spawnCli(['relay', '--wait', '--config', file.path]);
  try {
    await relay.waitForOutput(/cannot reach the database .*does not exist/, 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    assert.is(relay.child.exitCode, null, 'still running');
    assert.is((relay.output().match(/cannot reach the database/g) ?? []).length, 1, 'the outage is logged once, not per attempt');
    relay.child.kill('SIGTERM');
    assert.is(await relay.exited, 0, relay.output());
  } finally {
    if (relay.child.exitCode === null) relay.child.kill('SIGKILL');
    file.remove();
  }
});

test.run();

/**
 * `outbox relay --metrics host:port --log-format json`, as an operator runs it: after N healthy rows and a
 * few to an exchange that does not exist, /metrics (read over HTTP) counts them by destination and shows the
 * refused rows as the backlog; /healthz and /readyz answer 200; every line the process printed is a JSON
 * object carrying time, level, component, msg, and the refusal its destination, count and error code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertRows } from '../relay/rows.js';
import { spawnCli, writeConfigFile, type RelayProcess } from '../relay/support.js';
import { metricValue, probeAddress } from './support.js';

let t: TestDatabase;
const queue = uniqueName('metrics-good');
const good = `/queue/${queue}`;
const bad = `/exchange/${uniqueName('no-such-exchange')}/x`;
const config = writeConfigFile({ broker: { hosts: [{ host: '127.0.0.1', port: 61613 }] } });
let relay: RelayProcess | undefined;

test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  if (relay && relay.child.exitCode === null) relay.child.kill('SIGKILL');
  config?.remove();
  deleteQueue(queue);
  await t?.drop();
});

test('counters by destination, the backlog gauge, probes, JSON lines', async () => {
  const N = 50;
  await insertRows(t.db, good, N);
  await insertRows(t.db, bad, 3);
  relay = spawnCli(['relay', '--config', config.path, '--metrics', '127.0.0.1:0', '--log-format', 'json'], { DATABASE_URL: t.url });
  const base = await probeAddress(relay);
  await waitFor(async () => (await t.sql`select count(*)::int as n from outbox_published where status = 'sent'`)[0]!.n === N, 30_000, 100);
  await relay.waitForOutput(/the broker refused/);

  const text = await (await fetch(`${base}/metrics`)).text();
  if (process.env.SHOW_METRICS) console.log(text);
  const sent = (destination: string) => metricValue(text, 'outbox_relay_sent_total', { destination });
  assert.is(sent(good), N, text);
  assert.is(sent(bad), undefined, 'nothing was confirmed for the refused destination');
  assert.ok((metricValue(text, 'outbox_relay_retried_total', { destination: bad }) ?? 0) >= 1, 'the refused sends count as retried');
  assert.is(metricValue(text, 'outbox_relay_failed_total', { destination: good }), undefined, 'no healthy row failed');
  assert.is(metricValue(text, 'outbox_relay_backlog'), 3, 'the refused rows are the backlog');
  assert.ok(metricValue(text, 'outbox_relay_oldest_pending_age')! > 0);
  assert.is(metricValue(text, 'outbox_relay_receipt_duration_count', { destination: good }), N);
  assert.ok(metricValue(text, 'outbox_relay_claim_duration_count')! >= 1);
  assert.is(metricValue(text, 'outbox_relay_in_flight'), 0);

  assert.is((await fetch(`${base}/healthz`)).status, 200);
  const ready = await fetch(`${base}/readyz`);
  assert.is(ready.status, 200, await ready.text());

  relay.child.kill('SIGTERM');
  assert.is(await relay.exited, 0, relay.output());
  const lines = relay.output().split('\n').filter((l) => l !== '');
  const entries = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line: ${l}`);
    }
  });
  assert.is(lines.length, relay.output().split('\n').length - 1, 'no blank lines');
  for (const e of entries) {
    assert.ok(!Number.isNaN(Date.parse(String(e.time))), `time: ${JSON.stringify(e)}`);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(String(e.level)), `level: ${JSON.stringify(e)}`);
    assert.is(e.component, 'relay');
    assert.type(e.msg, 'string');
  }
  const refusal = entries.find((e) => /the broker refused/.test(String(e.msg)));
  assert.equal([refusal?.level, refusal?.destination, refusal?.error_code], ['warn', bad, 'E_BROKER_ERROR']);
  assert.ok(Number(refusal?.count) >= 1);
});

test.run();

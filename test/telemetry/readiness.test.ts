/**
 * /readyz follows the broker: `outbox relay` and `outbox consume` reach RabbitMQ through a proxy; when it
 * refuses connections, /readyz turns 503 within seconds, with the reason in one line, while /healthz stays
 * 200 (the process is fine, restarting it would not help); when the broker is back, /readyz is 200 again.
 * Default settings; the relay's text log, piped, has no blank lines around its warnings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { cleanupQueues } from '../consumer/helpers/env.js';
import { spawnCli, writeConfigFile, type RelayProcess } from '../relay/support.js';
import { probeAddress } from './support.js';

let t: TestDatabase;
let proxy: Proxy;
let config: { path: string; remove(): void };
const children: RelayProcess[] = [];
const queue = uniqueName('ready');

test.before(async () => {
  t = await createTestDatabase();
  await t.sql`create table started (message_id text, pid int)`;
  await t.sql`create table effects (message_id text, correlation_id text)`;
  proxy = await startProxy({ target: { host: '127.0.0.1', port: 61613 } });
  config = writeConfigFile({ broker: { hosts: [{ host: proxy.host, port: proxy.port }] } });
});
test.after(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  config?.remove();
  await proxy?.close();
  cleanupQueues(queue);
  await t?.drop();
});

async function status(base: string, path: string): Promise<{ code: number; text: string }> {
  const res = await fetch(`${base}${path}`);
  return { code: res.status, text: (await res.text()).trim() };
}

/** Ready, then not ready within 5 s of the cut (saying why), /healthz 200 throughout, then ready again. */
async function followsTheBroker(base: string): Promise<void> {
  await waitFor(async () => (await status(base, '/readyz')).code === 200, 20_000, 100);
  const cutAt = Date.now();
  await proxy.cut();
  await waitFor(async () => (await status(base, '/readyz')).code === 503, 5_000, 50);
  const seconds = (Date.now() - cutAt) / 1000;
  const down = await status(base, '/readyz');
  assert.match(down.text, /broker/, down.text);
  assert.not.match(down.text, /\n/);
  assert.is((await status(base, '/healthz')).code, 200, 'alive while the broker is away');
  await proxy.resume();
  await waitFor(async () => (await status(base, '/readyz')).code === 200, 30_000, 100);
  console.log(`503 ${seconds.toFixed(2)} s after the cut: "${down.text}"`);
}

test('outbox relay --metrics: /readyz follows the broker', async () => {
  const relay = spawnCli(['relay', '--config', config.path, '--metrics', '127.0.0.1:0'], { DATABASE_URL: t.url });
  children.push(relay);
  await followsTheBroker(await probeAddress(relay));
  relay.child.kill('SIGTERM');
  assert.is(await relay.exited, 0, relay.output());
  // The default text format, not on a terminal: the outage is told in warnings, one line each, no blank lines.
  assert.match(relay.output(), /^\[relay\] warn: lost the broker connection/m);
  assert.not.match(relay.output(), /\n\s*\n/, relay.output());
});

test('outbox consume --metrics: /readyz follows the broker', async () => {
  const consumer = spawnCli(['consume', 'test/consumer/fixtures/handler.ts#onMessage', `/queue/${queue}`, '--config', config.path, '--metrics', '127.0.0.1:0'], {
    DATABASE_URL: t.url,
  });
  children.push(consumer);
  await followsTheBroker(await probeAddress(consumer));
  consumer.child.kill('SIGTERM');
  assert.is(await consumer.exited, 0, consumer.output());
});

test.run();

/**
 * `outbox consume` as a process: loading errors exit 2; SIGTERM drains a slow handler and exits 0; past
 * consumer.shutdownTimeout it exits anyway and the message is redelivered; a second signal exits at once.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { consumeArgs, runCli, type Child } from './helpers/cli.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, testConfig } from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const children: Child[] = [];
const queues: string[] = [];

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  await t.sql`create table started (message_id text not null, pid int not null)`;
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  for (const c of children) c.process.kill('SIGKILL');
  await pub?.disconnect();
  cleanupQueues(...queues);
  await t?.drop();
});

function consume(queue: string, env: Record<string, string> = {}, handler?: string): Child {
  const child = runCli(consumeArgs(`/topic/${queue}`, queue, handler), { DATABASE_URL: t.url, ...env });
  children.push(child);
  return child;
}

async function freshQueue(): Promise<string> {
  const queue = uniqueName('cli');
  queues.push(queue);
  await declareQueues(testConfig(t.url, { prefetchCount: 4 }), `/topic/${queue}`, queue);
  return queue;
}

const count = async (table: 'effects' | 'started', id: string) =>
  (await t.sql`select count(*)::int as n from ${t.sql(table)} where message_id = ${id}`)[0]!.n as number;

test('a missing module, a missing export or a non-function is one line and exit code 2', async () => {
  const cases: Array<[string, RegExp]> = [
    ['test/consumer/fixtures/nope.ts#x', /nope\.ts: no such file/],
    ['test/consumer/fixtures/handler.ts#missing', /has no export "missing" \(its function exports: onMessage\)/],
    ['test/consumer/fixtures/handler.ts', /has no default export/],
    ['test/consumer/fixtures/handler.ts#notAFunction', /is a number, not a handler function/],
  ];
  for (const [handler, message] of cases) {
    const child = consume('never-used', {}, handler);
    assert.is(await child.exited, 2, child.output());
    const lines = child.output().trim().split('\n');
    assert.is(lines.length, 1, child.output());
    assert.match(lines[0]!, message);
  }
  const usage = runCli(['consume'], { DATABASE_URL: t.url });
  children.push(usage);
  assert.is(await usage.exited, 2);
});

test('SIGTERM with a slow handler in flight: it finishes, is acked, the process exits 0', async () => {
  const queue = await freshQueue();
  const child = consume(queue, { HANDLER_MODE: 'slow', HANDLER_SLEEP_MS: '1500', SHUTDOWN_TIMEOUT: '30' });
  const id = randomUUID();
  await publish(pub, `/topic/${queue}`, { n: 1 }, dop(id));
  await waitFor(async () => (await count('started', id)) === 1, 15_000);
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0, child.output());
  assert.is(await count('effects', id), 1);
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 }, 'acked before disconnecting');
  assert.match(child.output(), /waiting for 1 handler/);
});

test('past consumer.shutdownTimeout the process exits anyway; the message is redelivered and handled once', async () => {
  const queue = await freshQueue();
  const child = consume(queue, { HANDLER_MODE: 'slow', HANDLER_SLEEP_MS: '60000', SHUTDOWN_TIMEOUT: '0.5' });
  const id = randomUUID();
  await publish(pub, `/topic/${queue}`, { n: 1 }, dop(id));
  await waitFor(async () => (await count('started', id)) === 1, 15_000);
  child.process.kill('SIGTERM');
  assert.is(await child.exited, 0, child.output());
  assert.match(child.output(), /still running after consumer\.shutdownTimeout/);
  assert.is(await count('effects', id), 0);
  await waitFor(() => queueCounts(queue)?.messages === 1 && queueCounts(queue)?.unacked === 0, 30_000);

  const next = consume(queue);
  await waitFor(() => queueCounts(queue)?.messages === 0, 15_000);
  next.process.kill('SIGTERM');
  assert.is(await next.exited, 0, next.output());
  assert.is(await count('effects', id), 1);
});

test('a second signal exits at once, without waiting for the handler', async () => {
  const queue = await freshQueue();
  const child = consume(queue, { HANDLER_MODE: 'slow', HANDLER_SLEEP_MS: '60000', SHUTDOWN_TIMEOUT: 'null' });
  const id = randomUUID();
  await publish(pub, `/topic/${queue}`, { n: 1 }, dop(id));
  await waitFor(async () => (await count('started', id)) === 1, 15_000);
  child.process.kill('SIGINT');
  await waitFor(() => /finishing in-flight messages/.test(child.output()), 5_000);
  child.process.kill('SIGQUIT');
  assert.is(await child.exited, 130, child.output());
  assert.is(await count('effects', id), 0);
  await waitFor(() => queueCounts(queue)?.messages === 1 && queueCounts(queue)?.unacked === 0, 30_000);
});

test.run();

/**
 * kill -9 of the consumer after the handler's transaction committed but before its ACK: the broker
 * redelivers, and the inbox absorbs it — the effect exists once and the next consumer acks the message.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { consumeArgs, runCli, type Child } from './helpers/cli.js';
import { cleanupQueues, createEffects, declareQueues, dop, publish, publisher, queueCounts, testConfig } from './helpers/env.js';

let t: TestDatabase;
const children: Child[] = [];
const queue = uniqueName('crash');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  await t.sql`create table started (message_id text not null, pid int not null)`;
});
test.after(async () => {
  for (const c of children) c.process.kill('SIGKILL');
  cleanupQueues(queue);
  await t?.drop();
});

function consume(env: Record<string, string> = {}): Child {
  const child = runCli(consumeArgs(destination, queue), { DATABASE_URL: t.url, ...env });
  children.push(child);
  return child;
}

test('kill -9 between the commit and the ACK: the redelivery is absorbed by the inbox', async () => {
  await declareQueues(testConfig(t.url, { prefetchCount: 4 }), destination, queue);
  const pub = await publisher(testConfig(t.url));
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const id of ids) await publish(pub, destination, { id }, dop(id));
  await pub.disconnect();

  // Each handler commits its effect, then hangs: the consumer holds three committed, unacked messages.
  const first = consume({ HANDLER_MODE: 'hang-after-commit' });
  await waitFor(async () => (await t.sql`select count(*)::int as n from effects`)[0]!.n === 3, 15_000);
  assert.equal(queueCounts(queue), { messages: 3, unacked: 3 });
  first.process.kill('SIGKILL');
  assert.is(await first.exited, 'SIGKILL');
  await waitFor(() => queueCounts(queue)?.unacked === 0, 30_000);
  assert.is(queueCounts(queue)?.messages, 3, 'the broker kept all three for redelivery');

  const second = consume();
  await waitFor(() => queueCounts(queue)?.messages === 0, 15_000);
  second.process.kill('SIGTERM');
  assert.is(await second.exited, 0, second.output());

  const effects = await t.sql`select message_id, count(*)::int as n from effects group by message_id`;
  assert.equal(effects.map((e) => [e.message_id, e.n]).sort(), ids.map((id) => [id, 1]).sort());
  const started = await t.sql`select pid from started`;
  assert.is(started.length, 3, 'the second consumer never ran the handler again');
  assert.is((second.output().match(/already handled/g) ?? []).length, 3, second.output());
});

test.run();

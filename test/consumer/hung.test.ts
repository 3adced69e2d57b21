/**
 * consumer.handlerTimeout NACKs a hung handler's message, but the handler keeps its slot until it settles:
 * never more than consumer.concurrency handlers alive (with concurrency 1, twenty hung handlers used to run
 * at once, each holding a pooled connection). Hung handlers show in stats() and the log; shutdown waits for
 * them; and when every slot has been hung for handlerTimeout again, run() rejects with E_HANDLER_TIMEOUT and
 * `outbox consume` exits 1, for a supervisor to restart it.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import { isOutboxError } from '../../src/errors.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { consumeArgs, runCli, type Child } from './helpers/cli.js';
import { captureLogger, cleanupQueues, createEffects, declareQueues, dop, publish, publisher, sleep, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queues: string[] = [];
const children: Child[] = [];

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

async function freshQueue(prefetchCount = 4): Promise<{ queue: string; destination: string }> {
  const queue = uniqueName('hung');
  queues.push(queue);
  const destination = `/topic/${queue}`;
  await declareQueues(testConfig(t.url, { prefetchCount }), destination, queue);
  return { queue, destination };
}

/** A handler that waits for `gate`, counting how many of it are alive at once. */
function gated() {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const alive = { now: 0, peak: 0, started: 0 };
  const handler = async (p: Payload) => {
    alive.started++;
    alive.peak = Math.max(alive.peak, ++alive.now);
    try {
      await gate;
    } finally {
      alive.now--;
    }
    await t.db.transaction(async (tx) => p.save(tx)).catch(() => {});
  };
  return { handler, alive, open };
}

test('concurrency 1: a hung handler keeps the only slot; when it stays hung, run() rejects with E_HANDLER_TIMEOUT', async () => {
  const { queue, destination } = await freshQueue();
  for (let i = 0; i < 4; i++) await publish(pub, destination, { i }, dop());
  const { handler, alive, open } = gated();
  const logger = captureLogger();
  const config = testConfig(t.url, { handlerTimeout: 0.3, concurrency: 1, prefetchCount: 4 });
  const { consumer, running } = startConsumer({ db: t.db, config, handler, destination, queue, logger });
  try {
    await waitFor(() => consumer.stats().timeout === 1, 10_000);
    assert.is(consumer.stats().hung, 1, 'stats() counts the hung handler');
    const error = await running.then(() => undefined, (e: unknown) => e);
    assert.ok(isOutboxError(error, 'E_HANDLER_TIMEOUT'), String(error));
    assert.match((error as Error).message, /every handler slot \(1\) is held by a handler still running 0\.3 s after consumer\.handlerTimeout/);
    assert.equal([alive.started, alive.peak], [1, 1], 'no second handler started beside the hung one');
    assert.is(consumer.stats().timeout, 1);
    assert.ok(logger.said(/handler slot\(s\) held by handlers still running past consumer\.handlerTimeout/).length >= 1, 'the log says so');
  } finally {
    open();
    await consumer.stop();
  }
});

test('a handler that returns after its timeout frees its slot, and the next message is handled', async () => {
  const { queue, destination } = await freshQueue();
  const ids = [randomUUID(), randomUUID()];
  for (const id of ids) await publish(pub, destination, {}, dop(id));
  const late: string[] = [];
  const logger = captureLogger();
  const config = testConfig(t.url, { handlerTimeout: 0.3, concurrency: 1, prefetchCount: 4 });
  const handler = async (p: Payload) => {
    if (p.messageId === ids[0]) {
      await sleep(450); // past the timeout, within the hung limit (timeout × 2)
      late.push(p.messageId);
      return;
    }
    await t.db.transaction(async (tx) => p.save(tx));
  };
  const { consumer, running } = startConsumer({ db: t.db, config, handler, destination, queue, logger });
  await waitFor(() => consumer.stats().acked === 1, 10_000);
  assert.equal(late, [ids[0]], 'the second message started only once the first handler returned');
  assert.equal([consumer.stats().timeout, consumer.stats().hung], [1, 0]);
  assert.is(logger.said(/the handler of message .* returned .* s after consumer\.handlerTimeout; its slot is free again/).length, 1);
  await consumer.stop();
  await running;
});

test('shutdown waits for a hung handler (up to consumer.shutdownTimeout), not just for the ones in time', async () => {
  const { queue, destination } = await freshQueue();
  await publish(pub, destination, {}, dop());
  const { handler, alive, open } = gated();
  // Two slots, so one hung handler is not all of them.
  const config = testConfig(t.url, { handlerTimeout: 0.2, concurrency: 2, prefetchCount: 2, shutdownTimeout: 30 });
  const { consumer, running } = startConsumer({ db: t.db, config, handler, destination, queue });
  await waitFor(() => consumer.stats().timeout === 1, 10_000);
  let stopped = false;
  const stopping = consumer.stop().then(() => (stopped = true));
  await sleep(500);
  assert.not.ok(stopped, 'stop() waits for the hung handler');
  assert.is(alive.now, 1);
  open();
  await stopping;
  await running;
  assert.is(alive.now, 0);
});

test('outbox consume exits 1 with one line when every slot is hung', async () => {
  const { queue, destination } = await freshQueue();
  const ids = Array.from({ length: 4 }, () => randomUUID());
  for (const id of ids) await publish(pub, destination, {}, dop(id));
  // Each handler commits, then never returns; consumer.concurrency is 4 in the fixture config.
  const child = runCli(consumeArgs(destination, queue), { DATABASE_URL: t.url, HANDLER_MODE: 'hang-after-commit', HANDLER_TIMEOUT: '0.5' });
  children.push(child);
  assert.is(await child.exited, 1, child.output());
  // The last line on stderr: an info line on stdout may arrive after it, as the two pipes are read apart.
  const last = child.stderr().trim().split('\n').pop()!;
  assert.match(last, /^outbox: E_HANDLER_TIMEOUT: every handler slot \(4\) is held by a handler still running 0\.5 s after consumer\.handlerTimeout/);
});

test.run();

/**
 * The outcome table: nack(), a throw, a handler that does neither, a timeout → DLQ.<queue>, and the
 * subscription keeps flowing; an id already recorded is acked without running the handler; a non-JSON
 * body reaches the handler as a string.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import type { Payload } from '../../src/consumer/types.js';
import { isOutboxError } from '../../src/errors.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  cleanupQueues, createEffects, declareQueues, dop, drainDeadLetters, publish, publisher, queueCounts, sleep, startConsumer, testConfig,
} from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queues: string[] = [];

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(...queues);
  await t?.drop();
});

/** A fresh queue with its consumer; messages are published after the consumer declared the queue. */
async function withConsumer(config: ResolvedConfig, handler: (p: Payload<any>) => unknown) {
  const queue = uniqueName('outcomes');
  queues.push(queue);
  const destination = `/topic/${queue}`;
  const started = startConsumer({ db: t.db, config, handler, destination, queue });
  await waitFor(() => queueCounts(queue) !== undefined && queueCounts(`DLQ.${queue}`) !== undefined, 30_000);
  return { ...started, queue, destination };
}

const effect = (p: Payload<any>) =>
  t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify(p.body)}::jsonb)`);
    await p.save(tx);
  });

test('nack(), a throw and a do-nothing handler each dead-letter their message; the next message still flows', async () => {
  const { consumer, running, queue, destination } = await withConsumer(testConfig(t.url), async (p) => {
    switch (p.body.kind) {
      case 'nack':
        return p.nack();
      case 'throw':
        throw new Error('boom');
      case 'nothing':
        return;
      case 'rolled-back-save':
        // save() ran, but the handler swallowed its own rollback: nothing committed, so no ACK.
        await t.db
          .transaction(async (tx) => {
            await p.save(tx);
            throw new Error('rollback');
          })
          .catch(() => {});
        return;
      default:
        return effect(p);
    }
  });
  const ids = { nack: randomUUID(), throw: randomUUID(), nothing: randomUUID(), 'rolled-back-save': randomUUID() };
  for (const [kind, id] of Object.entries(ids)) await publish(pub, destination, { kind }, dop(id));
  await waitFor(() => queueCounts(`DLQ.${queue}`)?.messages === 4, 30_000);
  const ok = randomUUID();
  await publish(pub, destination, { kind: 'ok' }, dop(ok));
  await waitFor(() => consumer.stats().acked === 1, 10_000);
  await consumer.stop();
  await running;

  const s = consumer.stats();
  assert.equal([s.nacked, s.failed, s.unsettled, s.acked], [1, 1, 2, 1]);
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
  const dead = await drainDeadLetters(testConfig(t.url), queue, 4);
  assert.equal(dead.map((d) => d.id).sort(), Object.values(ids).sort(), 'the dead letters keep their dop-msg-id');
  const recorded = await t.sql`select message_id from outbox_received`;
  assert.ok(recorded.some((r) => r.message_id === ok));
  assert.not.ok(recorded.some((r) => r.message_id === ids['rolled-back-save']), 'the rolled-back save left no inbox row');
});

test('an id already in the inbox is acked without running the handler', async () => {
  const known = randomUUID();
  await t.sql`insert into outbox_received (message_id, destination, body, headers) values (${known}, '/topic/x', '{}', '{}')`;
  let calls = 0;
  const { consumer, running, destination } = await withConsumer(testConfig(t.url), async (p) => {
    calls++;
    await effect(p);
  });
  await publish(pub, destination, { n: 1 }, dop(known));
  await waitFor(() => consumer.stats().recorded === 1, 10_000);
  const stopping = consumer.stop();
  assert.is(consumer.stop(), stopping, 'stop() twice returns the same promise');
  await stopping;
  await running;
  assert.is(calls, 0);
});

test('a body that is not JSON reaches the handler as a string and is recorded as one', async () => {
  const seen: unknown[] = [];
  const { consumer, running, destination } = await withConsumer(testConfig(t.url), async (p) => {
    seen.push(p.body);
    await effect(p);
  });
  const id = randomUUID();
  await publish(pub, destination, 'hello, <not json>', { ...dop(id), 'content-type': 'text/plain' });
  await waitFor(() => consumer.stats().acked === 1, 10_000);
  await consumer.stop();
  await running;
  assert.equal(seen, ['hello, <not json>']);
  const [row] = await t.sql`select body #>> '{}' as text, jsonb_typeof(body) as kind from outbox_received where message_id = ${id}`;
  assert.equal([row?.text, row?.kind], ['hello, <not json>', 'string']);
});

test('a handler past consumer.handlerTimeout is nacked; its late save() throws E_SETTLED and its effects roll back', async () => {
  let lateError: unknown;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  // Two slots: the timed-out handler keeps its own until it returns, and the next message takes the other.
  const config = testConfig(t.url, { handlerTimeout: 0.3, concurrency: 2, prefetchCount: 2 });
  const { consumer, running, queue, destination } = await withConsumer(config, async (p) => {
    if (p.body.slow) {
      await released;
      try {
        await effect(p);
      } catch (e) {
        lateError = e;
      }
      return;
    }
    await effect(p);
  });
  const slow = randomUUID();
  await publish(pub, destination, { slow: true }, dop(slow));
  await waitFor(() => consumer.stats().timeout === 1, 10_000);
  // The consumer moved on: the next message is handled while the timed-out one is still running.
  await publish(pub, destination, { slow: false }, dop());
  await waitFor(() => consumer.stats().acked === 1, 10_000);
  release();
  await waitFor(() => lateError !== undefined, 5_000);
  await consumer.stop();
  await running;
  assert.ok(isOutboxError(lateError, 'E_SETTLED'), String(lateError));
  const [{ n }] = (await t.sql`select count(*)::int as n from effects where message_id = ${slow}`) as unknown as [{ n: number }];
  assert.is(n, 0);
  assert.is(queueCounts(`DLQ.${queue}`)?.messages, 1);
});

test('the handler runs inside the message correlation id, or a new one when it has none', async () => {
  const { currentCorrelationId } = await import('../../src/publish/correlation.js');
  const seen: Array<[string, string | undefined]> = [];
  const { consumer, running, destination } = await withConsumer(testConfig(t.url), async (p) => {
    await sleep(1);
    seen.push([p.correlationId, currentCorrelationId()]);
    await effect(p);
  });
  await publish(pub, destination, {}, dop(randomUUID(), { 'dop-correlation-id': 'corr-42' }));
  await publish(pub, destination, {}, { 'dop-msg-id': randomUUID() });
  await waitFor(() => consumer.stats().acked === 2, 10_000);
  await consumer.stop();
  await running;
  assert.equal(seen[0], ['corr-42', 'corr-42']);
  assert.match(seen[1]![0], /^[0-9a-f-]{36}$/);
  assert.is(seen[1]![1], seen[1]![0]);
});

test.run();

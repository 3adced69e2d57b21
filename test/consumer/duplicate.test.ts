/**
 * A duplicate is acked only when a committed inbox row holds its id. A second save() in a savepoint of the
 * transaction that already saved conflicts with that transaction's own row and throws E_DUPLICATE; let
 * through, as the README advises, it rolls everything back — nothing is recorded, so the message must not
 * be acked (it used to be, and was lost). In both handler forms it is dead-lettered instead; a real
 * duplicate (another delivery committed first) is still acked.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Handler, Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { captureLogger, cleanupQueues, createEffects, declareQueues, dop, drainDeadLetters, publish, publisher, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
// One queue for the file: every rabbitmqctl call costs seconds on a busy machine.
const queue = uniqueName('duplicate');
const destination = `/topic/${queue}`;
const config = testConfig('postgres://unused');

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pub = await publisher(config);
  await declareQueues(config, destination, queue);
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(queue);
  await t?.drop();
});

const effect = (p: Payload) => sql`insert into effects (message_id) values (${p.messageId})`;

/** Publishes one message, consumes it with `handler`, and reads what became of it (its dead letter, if any). */
async function consumeOne(handler: Handler, id: string) {
  await publish(pub, destination, { n: 1 }, dop(id));
  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db: t.db, config: testConfig(t.url), handler, destination, queue, logger });
  const settled = () => {
    const c = consumer.stats();
    return c.acked + c.duplicate + c.failed + c.nacked + c.unsettled + c.invalid;
  };
  await waitFor(() => settled() === 1, 10_000);
  await consumer.stop();
  await running;
  const [{ n }] = (await t.sql`select count(*)::int as n from outbox_received where message_id = ${id}`) as unknown as [{ n: number }];
  const s = consumer.stats();
  const dead = s.acked + s.duplicate === 1 ? [] : await drainDeadLetters(config, queue, 1);
  return { stats: s, dead: dead.map((d) => d.id), recorded: n, logger };
}

test('(payload) form: save() again in a savepoint, E_DUPLICATE let through — nothing committed, so it is dead-lettered, not acked', async () => {
  const id = randomUUID();
  const r = await consumeOne(async (p: Payload) => {
    await t.db.transaction(async (tx) => {
      await tx.execute(effect(p));
      await p.save(tx);
      await tx.transaction(async (savepoint) => p.save(savepoint));
    });
  }, id);
  assert.is(r.recorded, 0, 'the transaction rolled back: no inbox row');
  assert.is(r.stats.duplicate, 0, JSON.stringify(r.stats));
  assert.is(r.stats.failed, 1, JSON.stringify(r.stats));
  assert.equal(r.dead, [id], 'the message is in the DLQ, not lost');
  assert.is(r.logger.said(/no committed inbox row holds it/).length, 1);
});

test('(payload, { tx }) form: the same savepoint mistake is dead-lettered too', async () => {
  const id = randomUUID();
  const r = await consumeOne(async (p: Payload, { tx }) => {
    await tx.execute(effect(p));
    await p.save(tx);
    await tx.transaction(async (savepoint) => p.save(savepoint));
  }, id);
  assert.is(r.recorded, 0);
  assert.equal([r.stats.duplicate, r.stats.failed, r.dead], [0, 1, [id]], JSON.stringify(r.stats));
});

test('a real duplicate — committed by another delivery before this one saved — is still acked', async () => {
  const id = randomUUID();
  const r = await consumeOne(async (p: Payload) => {
    // Another delivery of the same id commits while this one runs.
    await t.sql`insert into outbox_received (message_id, queue, destination, body, headers) values (${id}, ${queue}, '/topic/x', '{}', '{}')`;
    await t.db.transaction(async (tx) => {
      await tx.execute(effect(p));
      await p.save(tx);
    });
  }, id);
  assert.equal([r.stats.duplicate, r.stats.failed, r.dead], [1, 0, []], JSON.stringify(r.stats));
  const [{ n }] = (await t.sql`select count(*)::int as n from effects where message_id = ${id}`) as unknown as [{ n: number }];
  assert.is(n, 0, "the duplicate's effect rolled back");
});

test.run();

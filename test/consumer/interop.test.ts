/**
 * An independent client (python3-stomp, as django-outbox-pattern uses) publishes with django-outbox-pattern's
 * library's headers: consumed, deduplicated by dop-msg-id; cap-msg-id wins over dop-msg-id.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, createEffects, queueCounts, startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
const queue = uniqueName('interop');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
});
test.after(async () => {
  cleanupQueues(queue);
  await t?.drop();
});

function publishWithPython(messages: Array<[Record<string, string>, unknown]>): void {
  const input = messages.map((m) => JSON.stringify(m)).join('\n');
  const r = spawnSync('/usr/bin/python3', ['test/consumer/fixtures/publish_original.py', destination], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3-stomp publisher failed: ${r.stderr}`);
}

/** The headers django-outbox-pattern's relay puts on a SEND. */
const original = (id: string, extra: Record<string, string> = {}) => ({
  'dop-msg-id': id,
  'dop-msg-destination': destination,
  'dop-msg-type': 'Published',
  'dop-msg-sent-time': new Date().toISOString(),
  'dop-correlation-id': randomUUID(),
  ...extra,
});

test('messages from django-outbox-pattern are consumed and deduplicated by dop-msg-id; cap-msg-id wins', async () => {
  const seen: Array<{ messageId: string; body: unknown; correlationId: string; sentCorrelation: string | undefined }> = [];
  const handler = async (p: Payload) => {
    seen.push({ messageId: p.messageId, body: p.body, correlationId: p.correlationId, sentCorrelation: p.headers['dop-correlation-id'] });
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify(p.body)}::jsonb)`);
      await p.save(tx);
    });
  };
  const { consumer, running } = startConsumer({ db: t.db, config: testConfig(t.url), handler, destination, queue });
  await waitFor(() => queueCounts(queue) !== undefined, 30_000);

  const a = randomUUID();
  const b = randomUUID();
  const cap = `cap-${randomUUID()}`;
  publishWithPython([
    [original(a), { id: 1, name: 'first' }],
    [original(a), { id: 1, name: 'first, sent again' }],
    [original(b), { id: 2 }],
    // A CAP (.NET) message that also carries a dop-msg-id: the cap id is the key, twice.
    [original(randomUUID(), { 'cap-msg-id': cap }), { id: 3 }],
    [original(randomUUID(), { 'cap-msg-id': cap }), { id: 3 }],
  ]);
  await waitFor(() => {
    const s = consumer.stats();
    return s.acked + s.duplicate + s.recorded === 5;
  }, 10_000);
  await consumer.stop();
  await running;

  const effects = await t.sql`select message_id, body from effects order by message_id`;
  assert.equal(effects.map((e) => e.message_id).sort(), [a, b, cap].sort());
  assert.equal(consumer.stats().acked, 3);
  assert.equal(seen[0]?.body, { id: 1, name: 'first' });
  assert.is(seen[0]?.correlationId, seen[0]?.sentCorrelation, "django-outbox-pattern's dop-correlation-id is the payload's");
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
});

test('a queue and DLQ django-outbox-pattern declared are consumed as they are (same arguments, no PRECONDITION_FAILED)', async () => {
  const q = uniqueName('interop-decl');
  const dest = `/topic/${q}`;
  try {
    const r = spawnSync('/usr/bin/python3', ['test/consumer/fixtures/declare_original.py', dest, q], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.ok(queueCounts(q) && queueCounts(`DLQ.${q}`), 'django-outbox-pattern declared both queues');
    const nacked = randomUUID();
    const { consumer, running } = startConsumer({
      db: t.db,
      config: testConfig(t.url),
      handler: (p: Payload) => p.nack(),
      destination: dest,
      queue: q,
    });
    const input = JSON.stringify([original(nacked), { x: 1 }]);
    // The queue exists and is bound already: what python publishes now waits in it for the consumer.
    const out = spawnSync('/usr/bin/python3', ['test/consumer/fixtures/publish_original.py', dest], { input, encoding: 'utf8' });
    assert.is(out.status, 0, out.stderr);
    await waitFor(() => consumer.stats().nacked === 1, 10_000);
    await waitFor(() => queueCounts(`DLQ.${q}`)?.messages === 1, 30_000);
    await consumer.stop();
    await running;
  } finally {
    cleanupQueues(q);
  }
});

test.run();

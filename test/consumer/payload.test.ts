/** Payload, inbox SQL and header rules, against the real Postgres (no broker needed). */
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import { decodeBody } from '../../src/wire/body.js';
import { messageIdOf } from '../../src/wire/headers.js';
import { createPayload } from '../../src/consumer/payload.js';
import { inboxStatements } from '../../src/consumer/sql.js';
import { deadLetterHeaders, defaultQueueName, subscribeHeaders } from '../../src/consumer/subscription.js';
import { createOutboxTables } from '../../src/db/tables.js';
import { isOutboxError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createEffects, sleep } from './helpers/env.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
});
test.after(async () => t?.drop());

const inbox = (queue = 'orders') => inboxStatements(t.db, createOutboxTables(), queue);
const init = (messageId: string, body: unknown = { n: 1 }) => ({
  body,
  headers: { 'dop-msg-id': messageId, destination: '/topic/x' },
  messageId,
  correlationId: 'c-1',
  destination: '/topic/x',
});

test('the dedup key is cap-msg-id, then dop-msg-id, then message-id', () => {
  assert.equal(messageIdOf({ 'message-id': 'm', 'dop-msg-id': 'd', 'cap-msg-id': 'c' }), { id: 'c', source: 'cap-msg-id' });
  assert.equal(messageIdOf({ 'message-id': 'm', 'dop-msg-id': 'd' }), { id: 'd', source: 'dop-msg-id' });
  assert.equal(messageIdOf({ 'message-id': 'm', 'dop-msg-id': '' }), { id: 'm', source: 'message-id' });
  assert.is(messageIdOf({}), undefined);
});

test('a body that is not JSON is its text', () => {
  assert.equal(decodeBody(Buffer.from('{"a":[1,"é"]}')), { value: { a: [1, 'é'] }, json: true });
  assert.equal(decodeBody(Buffer.from('plain text é')), { value: 'plain text é', json: false });
  assert.equal(decodeBody(Buffer.from('')), { value: '', json: false });
  assert.equal(decodeBody(Buffer.from('"quoted"')), { value: 'quoted', json: true });
});

test("SUBSCRIBE headers: django-outbox-pattern's queue arguments, client-individual acks, lowercase booleans", () => {
  const c = resolveConfig({ consumer: { prefetchCount: 5, exclusive: false, queueHeaders: { 'x-queue-type': 'classic', durable: 'True', ack: 'client' } } }, {});
  const h = subscribeHeaders(c.consumer, 'orders');
  assert.equal(h, {
    durable: 'true',
    'auto-delete': 'false',
    'x-queue-type': 'classic',
    'prefetch-count': '5',
    exclusive: 'false',
    'x-queue-name': 'orders',
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': 'DLQ.orders',
    ack: 'client-individual',
  });
  const d = deadLetterHeaders(resolveConfig({ consumer: { exclusive: true } }, {}).consumer, 'orders');
  assert.is(d['x-queue-name'], 'DLQ.orders');
  assert.is(d['x-dead-letter-routing-key'], 'DLQ.DLQ.orders', 'as django-outbox-pattern declares its DLQ');
  assert.is(d.exclusive, 'false', 'a DLQ is never exclusive, or it would vanish with its connection');
  assert.is(defaultQueueName('/topic/orders.v1'), 'orders.v1');
  assert.is(defaultQueueName('/exchange/amq.topic/a.b'), 'a.b');
  assert.is(defaultQueueName('/queue/q/'), 'q');
});

test('save() records the message in the handler transaction; a second delivery gets E_DUPLICATE and rolls back', async () => {
  const first = createPayload(init('m-1'), inbox());
  await t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id) values ('m-1')`);
    await first.payload.save(tx);
    await first.payload.save(tx); // the same transaction again: harmless
  });
  assert.ok(first.state.saved);
  assert.not.ok(first.state.duplicate);

  const second = createPayload(init('m-1'), inbox());
  let caught: unknown;
  try {
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`insert into effects (message_id) values ('m-1')`);
      await second.payload.save(tx);
    });
  } catch (e) {
    caught = e;
  }
  assert.ok(isOutboxError(caught, 'E_DUPLICATE'), String(caught));
  assert.ok(second.state.duplicate);
  const [{ n }] = (await t.sql`select count(*)::int as n from effects where message_id = 'm-1'`) as unknown as [{ n: number }];
  assert.is(n, 1, "the duplicate's effect rolled back");
  assert.ok(await inbox().isRecorded('m-1'));
  assert.not.ok(await inbox().isRecorded('m-2'));
});

test('the inbox row keeps the body as JSON (an object, or a string for a non-JSON body) and every header', async () => {
  for (const [id, body] of [['b-obj', { a: 1 }], ['b-str', 'not json']] as const) {
    const p = createPayload(init(id, body), inbox());
    await t.db.transaction((tx) => p.payload.save(tx));
  }
  const rows = await t.sql`select message_id, jsonb_typeof(body) as kind, body, headers->>'dop-msg-id' as h from outbox_received where message_id like 'b-%' order by message_id`;
  assert.equal(rows.map((r) => [r.message_id, r.kind, r.h]), [['b-obj', 'object', 'b-obj'], ['b-str', 'string', 'b-str']]);
});

test('two concurrent deliveries of one id: the second insert waits for the first transaction, then sees it', async () => {
  const a = createPayload(init('c-1'), inbox());
  const b = createPayload(init('c-1'), inbox());
  let releaseA!: () => void;
  const aHolds = new Promise<void>((r) => (releaseA = r));
  const runA = t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id) values ('c-1')`);
    await a.payload.save(tx);
    await aHolds; // A's transaction stays open while B tries
  });
  await sleep(50);
  let bSettled = false;
  const runB = t.db
    .transaction(async (tx) => {
      await tx.execute(sql`insert into effects (message_id) values ('c-1')`);
      await b.payload.save(tx);
    })
    .then(
      () => 'committed',
      (e) => e,
    )
    .finally(() => (bSettled = true));
  await sleep(200);
  assert.not.ok(bSettled, "B's insert must wait on A's uncommitted row, not succeed beside it");
  releaseA();
  await runA;
  const outcome = await runB;
  assert.ok(isOutboxError(outcome, 'E_DUPLICATE'), String(outcome));
  const [{ n }] = (await t.sql`select count(*)::int as n from effects where message_id = 'c-1'`) as unknown as [{ n: number }];
  assert.is(n, 1);
});

test('if the first transaction rolls back, the waiting delivery takes over', async () => {
  const a = createPayload(init('r-1'), inbox());
  const b = createPayload(init('r-1'), inbox());
  let failA!: () => void;
  const aFails = new Promise<void>((_, reject) => (failA = () => reject(new Error('A failed'))));
  const runA = t.db.transaction(async (tx) => {
    await a.payload.save(tx);
    await aFails;
  }).catch(() => 'rolled back');
  await sleep(50);
  const runB = t.db.transaction(async (tx) => {
    await tx.execute(sql`insert into effects (message_id) values ('r-1')`);
    await b.payload.save(tx);
  });
  await sleep(100);
  failA();
  assert.is(await runA, 'rolled back');
  await runB;
  assert.ok(b.state.saved);
  assert.not.ok(b.state.duplicate);
});

test('the dedup scope is the queue: another queue saves the same id once, and only once', async () => {
  const email = createPayload(init('q-1'), inbox('orders-email'));
  await t.db.transaction((tx) => email.payload.save(tx));
  assert.ok(await inbox('orders-email').isRecorded('q-1'));
  assert.not.ok(await inbox('orders-stats').isRecorded('q-1'), 'recorded for orders-email only');

  const stats = createPayload(init('q-1'), inbox('orders-stats'));
  await t.db.transaction((tx) => stats.payload.save(tx));
  assert.ok(stats.state.saved);
  assert.not.ok(stats.state.duplicate);
  assert.ok(await inbox('orders-stats').isCommitted('q-1'));

  const again = createPayload(init('q-1'), inbox('orders-stats'));
  let caught: unknown;
  try {
    await t.db.transaction((tx) => again.payload.save(tx));
  } catch (e) {
    caught = e;
  }
  assert.ok(isOutboxError(caught, 'E_DUPLICATE'), 'a second delivery on the same queue is still a duplicate');
  const rows = await t.sql`select queue from outbox_received where message_id = 'q-1' order by queue`;
  assert.equal(rows.map((r) => r.queue), ['orders-email', 'orders-stats']);
});

test("a row recorded before the inbox had queues (queue '') counts as recorded for every queue", async () => {
  await t.sql`insert into outbox_received (message_id, destination, body, headers) values ('old-1', '/topic/x', '{}', '{}')`;
  const [{ queue }] = (await t.sql`select queue from outbox_received where message_id = 'old-1'`) as unknown as [{ queue: string }];
  assert.is(queue, '', "the column's default, as the migration gives existing rows");
  assert.ok(await inbox('orders-email').isRecorded('old-1'));
  assert.ok(await inbox('orders-stats').isRecorded('old-1'));
  assert.not.ok(await inbox('orders-email').isCommitted('old-1'), "the commit check looks at the queue's own row");
});

test('save() after the message was settled throws E_SETTLED, so late effects roll back', async () => {
  const p = createPayload(init('s-1'), inbox());
  p.state.settled = true;
  let caught: unknown;
  try {
    await t.db.transaction((tx) => p.payload.save(tx));
  } catch (e) {
    caught = e;
  }
  assert.ok(isOutboxError(caught, 'E_SETTLED'));
  assert.not.ok(await inbox().isRecorded('s-1'));
});

test.run();

// The generated helpers and publish() against real PostgreSQL: events commit with their business rows,
// in config order, or not at all.
import { eq, inArray, sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { insertWithOutbox, publish as packagePublish, withCorrelationId } from '../../src/index.js';
import type { OutboxError } from '../../src/errors.js';
import {
  insertCustomerWithOutbox,
  insertLineItemWithOutbox,
  insertOrderWithOutbox,
  publish,
  updateOrderWithOutbox,
} from '../fixtures/shop/golden/index.js';
import { customers, orders, schemaSql } from '../fixtures/shop/schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let t: TestDatabase;

interface OutboxRow {
  seq: string;
  id: string;
  destination: string;
  body: any;
  headers: Record<string, string>;
  status: string;
}
const outbox = () => t.sql<OutboxRow[]>`select seq, id, destination, body, headers, status from outbox_published order by seq`;
const count = async (table: string) => Number((await t.sql.unsafe(`select count(*) as n from ${table}`))[0]!.n);

async function rejects(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<OutboxError> {
  try {
    await promise;
  } catch (e) {
    assert.is((e as OutboxError).code, code, (e as Error).message);
    if (pattern) assert.match((e as Error).message, pattern);
    return e as OutboxError;
  }
  return assert.unreachable('it succeeded') as never;
}

async function failsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable('it succeeded');
}

test.before(async () => {
  t = await createTestDatabase();
  await t.sql.unsafe(schemaSql);
});
test.before.each(async () => {
  await t.sql`truncate orders, customers, line_items, outbox_published restart identity`;
});
test.after(() => t.drop());

test('commit: the business row and one outbox row per publish config, in config order, headers fixed at insert', async () => {
  const order = await t.db.transaction((tx) => insertOrderWithOutbox(tx, { total: '12.50', note: 'gift' }));
  assert.equal({ id: order.id, status: order.status, total: order.total }, { id: 1, status: 'new', total: '12.50' });
  const rows = await outbox();
  assert.equal(rows.map((r) => r.destination), ['/topic/orders', '/topic/orders-slim.v1', '/topic/orders-billing']);
  assert.equal(rows[0]!.body, { id: 1, status: 'new', total: '12.50', note: 'gift', createdAt: order.createdAt.toISOString() });
  assert.equal(rows[1]!.body, { id: 1, status: 'new' }, 'fields: the key as id, then the chosen columns');
  assert.equal(rows[2]!.body, { orderId: 1, cents: 1250 }, "the serializer's result, as is");
  const correlation = rows[0]!.headers['dop-correlation-id']!;
  assert.match(correlation, UUID);
  for (const row of rows) {
    assert.match(row.id, UUID);
    assert.is(row.status, 'pending');
    assert.equal(Object.keys(row.headers).sort(), ['dop-correlation-id', 'dop-msg-destination', 'dop-msg-id', 'dop-msg-sent-time', 'dop-msg-type', 'x-destination-kind', 'x-source']);
    assert.is(row.headers['dop-msg-id'], row.id, 'dop-msg-id is the row id');
    assert.is(row.headers['dop-msg-destination'], row.destination);
    assert.is(row.headers['dop-msg-type'], 'Published');
    assert.match(row.headers['dop-msg-sent-time']!, ISO);
    assert.is(row.headers['dop-correlation-id'], correlation, 'the events of one call share a correlation id');
    assert.is(row.headers['x-source'], 'capture-fixture', "the config's headers hook");
    assert.is(row.headers['x-destination-kind'], 'topic', 'the hook sees the final destination');
  }
});

test('rollback: a thrown error leaves neither the business row nor its events', async () => {
  await failsWith(
    t.db.transaction(async (tx) => {
      await insertOrderWithOutbox(tx, { total: '1.00' });
      throw new Error('payment declined');
    }),
    /payment declined/,
  );
  assert.is(await count('orders'), 0);
  assert.is(await count('outbox_published'), 0);
});

test('a rolled-back savepoint takes its outbox rows with it; the outer transaction keeps its own', async () => {
  await t.db.transaction(async (tx) => {
    await insertOrderWithOutbox(tx, { total: '1.00' });
    await failsWith(
      tx.transaction(async (sp) => {
        await insertOrderWithOutbox(sp, { total: '2.00' });
        throw new Error('inner');
      }),
      /inner/,
    );
    await tx.transaction((sp) => insertOrderWithOutbox(sp, { total: '3.00' }));
  });
  assert.equal((await t.sql`select total from orders order by id`).map((r) => r.total), ['1.00', '3.00']);
  const rows = await outbox();
  assert.is(rows.length, 6);
  assert.equal([...new Set(rows.map((r) => r.body.id ?? r.body.orderId))], [1, 3]);
});

test('a body that is not JSON is an error inside the transaction, which rolls back', async () => {
  const model = { table: orders, publish: [{ destination: '/topic/ok' }, { destination: '/topic/bad', serializer: (o: { id: number }) => ({ id: o.id, ratio: o.id / 0 }) }] };
  await rejects(
    t.db.transaction((tx) => insertWithOutbox(tx, model, { total: '1.00' }, { name: 'order' })),
    'E_NOT_JSON',
    /^body\.ratio is Infinity .*\(model order, \/topic\/bad\)$/,
  );
  await rejects(t.db.transaction(async (tx) => {
    await insertOrderWithOutbox(tx, { total: '1.00' });
    await publish(tx, { destination: '/topic/x', body: { when: new Map() } });
  }), 'E_NOT_JSON', /body\.when is a Map/);
  assert.is(await count('orders'), 0);
  assert.is(await count('outbox_published'), 0);
});

test('the root database is refused at run time too (for JavaScript callers and casts)', async () => {
  await rejects(insertOrderWithOutbox(t.db as never, { total: '1.00' }), 'E_NOT_TRANSACTION', /^insertOrderWithOutbox\(\) needs the transaction handle/);
  await rejects(updateOrderWithOutbox(t.db as never, eq(orders.id, 1), { status: 'paid' }), 'E_NOT_TRANSACTION', /^updateOrderWithOutbox\(\)/);
  await rejects(publish(t.db as never, { destination: '/topic/x', body: {} }), 'E_NOT_TRANSACTION', /^publish\(\)/);
  assert.is(await count('orders'), 0);
  assert.is(await count('outbox_published'), 0);
});

test('version suffix, a key not called id, bigint and Date in bodies', async () => {
  const customer = await t.db.transaction((tx) => insertCustomerWithOutbox(tx, { name: 'Ada', points: 9007199254740993n, tags: ['vip'] }));
  const rows = await outbox();
  assert.equal(rows.map((r) => r.destination), ['/topic/customers.v2', '/queue/crm']);
  assert.equal(rows[0]!.body, {
    id: customer.customerId,
    customerId: customer.customerId,
    name: 'Ada',
    points: '9007199254740993',
    tags: ['vip'],
    createdAt: customer.createdAt.toISOString(),
  });
  assert.equal(rows[1]!.body, { customerId: customer.customerId, name: 'Ada', points: '9007199254740993', tags: ['vip'], since: customer.createdAt.toISOString(), vip: true });
  const item = await t.db.transaction((tx) => insertLineItemWithOutbox(tx, { orderId: 7, sku: 'A-1', quantity: 2 }));
  assert.equal(item, { orderId: 7, sku: 'A-1', quantity: 2 });
  assert.equal((await outbox())[2]!.body, { order: 7, sku: 'A-1', quantity: 2 });
});

test('bulk insert: many rows in one call, events row by row in config order (several INSERT statements past 5000)', async () => {
  const values = Array.from({ length: 2000 }, (_, i) => ({ total: `${i}.00` }));
  const inserted = await t.db.transaction((tx) => insertOrderWithOutbox(tx, values));
  assert.is(inserted.length, 2000);
  assert.equal(await t.db.transaction((tx) => insertOrderWithOutbox(tx, [])), [], 'an empty list writes nothing');
  const rows = await outbox();
  assert.is(rows.length, 6000);
  rows.forEach((row, i) => {
    const order = inserted[Math.floor(i / 3)]!;
    assert.is(row.destination, ['/topic/orders', '/topic/orders-slim.v1', '/topic/orders-billing'][i % 3]);
    assert.is(row.body.id ?? row.body.orderId, order.id);
  });
  assert.is(new Set(rows.map((r) => r.id)).size, 6000, 'every event has its own id');
});

test('update helper: one event per updated row per config, with the updated values; none when nothing matches', async () => {
  const [a, b, c] = await t.db.transaction((tx) => insertOrderWithOutbox(tx, [{ total: '1.00' }, { total: '2.00' }, { total: '3.00' }]));
  await t.sql`truncate outbox_published`;
  const updated = await t.db.transaction((tx) => updateOrderWithOutbox(tx, inArray(orders.id, [a!.id, c!.id]), { status: 'paid', total: sql`${orders.total} * 2` }));
  assert.equal(updated.map((r) => [r.id, r.status, r.total]), [[a!.id, 'paid', '2.00'], [c!.id, 'paid', '6.00']]);
  const rows = await outbox();
  assert.equal(rows.map((r) => [r.destination, r.body.id ?? r.body.orderId]), [
    ['/topic/orders', a!.id], ['/topic/orders-slim.v1', a!.id], ['/topic/orders-billing', a!.id],
    ['/topic/orders', c!.id], ['/topic/orders-slim.v1', c!.id], ['/topic/orders-billing', c!.id],
  ]);
  assert.equal(rows[1]!.body, { id: a!.id, status: 'paid' });
  assert.equal(rows[2]!.body, { orderId: a!.id, cents: 200 });
  assert.equal(await t.db.transaction((tx) => updateOrderWithOutbox(tx, eq(orders.id, 999), { status: 'paid' })), []);
  assert.is(await count('outbox_published'), 6);
  void b;
});

test('withCorrelationId: every event written inside carries the ambient id', async () => {
  await withCorrelationId('req-42', () =>
    t.db.transaction(async (tx) => {
      await insertOrderWithOutbox(tx, { total: '1.00' });
      await publish(tx, { destination: '/topic/audit', body: { action: 'create' } });
    }),
  );
  const rows = await outbox();
  assert.is(rows.length, 4);
  for (const row of rows) assert.is(row.headers['dop-correlation-id'], 'req-42');
});

test("publish(): version, custom headers, the id returned; the generated one applies the config's hook, the package one does not", async () => {
  const [viaConfig, viaPackage] = await t.db.transaction(async (tx) => [
    await publish(tx, { destination: '/topic/audit', version: 'v3', body: { at: new Date(0), n: 1n }, headers: { 'x-tenant': 'acme' } }),
    await packagePublish(tx, { destination: '/queue/jobs', body: ['a', 1] }),
  ]);
  const rows = await outbox();
  assert.equal(rows.map((r) => r.id), [viaConfig, viaPackage]);
  assert.is(rows[0]!.destination, '/topic/audit.v3');
  assert.equal(rows[0]!.body, { at: '1970-01-01T00:00:00.000Z', n: '1' });
  assert.is(rows[0]!.headers['x-tenant'], 'acme');
  assert.is(rows[0]!.headers['x-source'], 'capture-fixture');
  assert.is(rows[0]!.headers['dop-msg-destination'], '/topic/audit.v3');
  assert.equal(rows[1]!.body, ['a', 1]);
  assert.is(rows[1]!.headers['x-source'], undefined);
  await rejects(t.db.transaction((tx) => publish(tx, { destination: 'audit', body: {} })), 'E_INVALID_DESTINATION', /^publish\(\): destination "audit" must start with/);
  await rejects(t.db.transaction((tx) => publish(tx, { destination: '/topic/a', version: 'v 1', body: {} })), 'E_INVALID_DESTINATION', /^publish\(\): version/);
  await rejects(t.db.transaction((tx) => publish(tx, { destination: '/topic/a', body: {}, headers: { 'dop-msg-id': 'mine' } })), 'E_INVALID_HEADER');
  assert.is(await count('outbox_published'), 2);
});

test.run();

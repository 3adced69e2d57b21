/**
 * The fault-injection proxy does what it promises, between real clients and the real services: postgres.js
 * to PostgreSQL and our STOMP client to RabbitMQ. A plain socket pair checks what needs exact bytes (where a
 * cut falls, a client's writes backing up) and that close() leaves no handle behind.
 */
import net from 'node:net';
import postgres from 'postgres';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { testBroker } from '../stomp/support.js';
import { deleteQueue, queueDepth, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from './broker.js';
import { startProxy, type Proxy } from './proxy.js';

const PG = { host: '127.0.0.1', port: 5432 };
const STOMP = { host: STOMP_HOST, port: STOMP_PORT };
const logger = silentLogger;

const proxies: Proxy[] = [];
const queues: string[] = [];
const clients: postgres.Sql[] = [];

async function proxyTo(target: { host: string; port: number }): Promise<Proxy> {
  const proxy = await startProxy({ target });
  proxies.push(proxy);
  return proxy;
}

function pgThrough(proxy: Proxy): postgres.Sql {
  const sql = postgres({ host: proxy.host, port: proxy.port, user: 'postgres', database: 'postgres', max: 1, connect_timeout: 5, onnotice: () => {} });
  clients.push(sql);
  return sql;
}

const brokerThrough = (proxy: Proxy) => testBroker({ hosts: [{ host: proxy.host, port: proxy.port }] });

const queue = (prefix: string): string => {
  const name = uniqueName(prefix);
  queues.push(name);
  return name;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `promise` settles within `ms` (it is left running either way). */
const settlesWithin = (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true, () => true), sleep(ms).then(() => false)]);

const failure = (promise: Promise<unknown>): Promise<{ code?: string; ms: number }> => {
  const t0 = Date.now();
  return promise.then(
    () => ({ ms: Date.now() - t0 }),
    (e: { code?: string }) => ({ code: e.code, ms: Date.now() - t0 }),
  );
};

/** A plain TCP server that keeps every byte it receives, per connection. */
async function startSink(): Promise<{ target: { host: string; port: number }; received: Buffer[][]; ended: boolean[]; close(): Promise<void> }> {
  const received: Buffer[][] = [];
  const ended: boolean[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const i = received.push([]) - 1;
    ended.push(false);
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => received[i]!.push(chunk));
    socket.on('end', () => (ended[i] = true));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    target: { host: '127.0.0.1', port },
    received,
    ended,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function dialRaw(proxy: Proxy): Promise<net.Socket> {
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  return socket;
}

// Each test's clients and proxies end with it, so the last test can count handles from zero.
test.after.each(async () => {
  await Promise.all(clients.splice(0).map((sql) => sql.end({ timeout: 1 })));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
test.after(() => {
  for (const q of queues) deleteQueue(q);
});

// ── PostgreSQL ───────────────────────────────────────────────────────────────────────────────────

test('postgres: a query goes through; cut() fails the one in flight and refuses new connections at once; resume() lets them in', async () => {
  const proxy = await proxyTo(PG);
  const sql = pgThrough(proxy);
  assert.equal([...(await sql`select 1 as one`)], [{ one: 1 }]);

  const inFlight = failure(sql`select pg_sleep(30)`);
  await sleep(200);
  await proxy.cut();
  const cut = await inFlight;
  assert.is(cut.code, 'CONNECTION_CLOSED', 'the connection ended under the query');
  assert.ok(cut.ms < 5_000, `failed fast (${cut.ms} ms), not after the 30 s sleep`);

  const refused = await failure(pgThrough(proxy)`select 1`);
  assert.is(refused.code, 'ECONNREFUSED', 'the port is closed during the cut');
  assert.ok(refused.ms < 5_000, `refused fast (${refused.ms} ms), not after the connect timeout`);

  await proxy.resume();
  assert.equal([...(await sql`select 2 as two`)], [{ two: 2 }], 'the same client connects again');
  assert.equal([...(await pgThrough(proxy)`select 3 as three`)], [{ three: 3 }], 'and so does a new one');
});

test('postgres: during stall() a query does not complete, on an open connection or a new one, until resume()', async () => {
  const proxy = await proxyTo(PG);
  const sql = pgThrough(proxy);
  await sql`select 1`;
  proxy.stall();
  const onOpen = sql`select 'open' as via`;
  const onNew = pgThrough(proxy)`select 'new' as via`;
  assert.not.ok(await settlesWithin(Promise.all([onOpen, onNew]), 1_000), 'nothing completes while stalled');
  assert.not.ok(await settlesWithin(onOpen, 0));
  assert.not.ok(await settlesWithin(onNew, 0));
  await proxy.resume();
  assert.equal([...(await onOpen)], [{ via: 'open' }]);
  assert.equal([...(await onNew)], [{ via: 'new' }]);
  assert.is(proxy.accepted, 2);
});

test('postgres: delay(ms) holds each chunk, both ways', async () => {
  const proxy = await proxyTo(PG);
  const sql = pgThrough(proxy);
  await sql`select 1`;
  proxy.delay(150);
  const t0 = Date.now();
  await sql`select 1`;
  const took = Date.now() - t0;
  // A query is at least one chunk out and one back.
  assert.ok(took >= 300, `one round trip took ${took} ms`);
  proxy.delay(0);
});

test('postgres: reset() fails the query in flight with ECONNRESET; the client connects again', async () => {
  const proxy = await proxyTo(PG);
  const sql = pgThrough(proxy);
  await sql`select 1`;
  const inFlight = failure(sql`select pg_sleep(30)`);
  await sleep(200);
  proxy.reset();
  const reset = await inFlight;
  assert.is(reset.code, 'ECONNRESET');
  assert.ok(reset.ms < 5_000, `failed fast (${reset.ms} ms)`);
  // postgres.js drops a query sent between its socket's error and close; wait for the close.
  await waitFor(() => proxy.connections === 0, 5_000);
  assert.equal([...(await sql`select 2 as two`)], [{ two: 2 }]);
});

// ── RabbitMQ STOMP ───────────────────────────────────────────────────────────────────────────────

test('stomp: a send through the proxy is confirmed; through a stalled proxy it gets no receipt until resume()', async () => {
  const proxy = await proxyTo(STOMP);
  const session = await connect({ broker: brokerThrough(proxy), logger });
  try {
    const name = queue('proxy-stall');
    await session.send(`/queue/${name}`, 'before');
    assert.is(queueDepth(name), 1);
    proxy.stall();
    const sent = session.send(`/queue/${name}`, 'during');
    assert.not.ok(await settlesWithin(sent, 1_500), 'no receipt while stalled');
    assert.is(queueDepth(name), 1, 'the broker never saw the SEND');
    await proxy.resume();
    await sent;
    assert.is(queueDepth(name), 2);
  } finally {
    await session.disconnect();
  }
});

test('stomp: cut() ends the session with E_CONNECTION_CLOSED and refuses CONNECT (E_CONNECT) until resume()', async () => {
  const proxy = await proxyTo(STOMP);
  const session = await connect({ broker: brokerThrough(proxy), logger });
  await proxy.cut();
  const reason = await session.closed;
  assert.instance(reason, OutboxError);
  assert.is(reason!.code, 'E_CONNECTION_CLOSED');
  const refused = await failure(connect({ broker: brokerThrough(proxy), logger }));
  assert.is(refused.code, 'E_CONNECT');
  await proxy.resume();
  const again = await connect({ broker: brokerThrough(proxy), logger });
  await again.send(`/queue/${queue('proxy-cut')}`, 'after');
  await again.disconnect();
});

test('stomp: reset() fails pending sends and closes the session', async () => {
  const proxy = await proxyTo(STOMP);
  const session = await connect({ broker: brokerThrough(proxy), logger });
  proxy.stall();
  const pending = failure(session.send(`/queue/${queue('proxy-reset')}`, 'x'));
  await sleep(100);
  proxy.reset();
  assert.is((await pending).code, 'E_CONNECTION_CLOSED');
  assert.instance(await session.closed, OutboxError);
  await proxy.resume();
});

test('stomp: cutAfterBytes ends the connection mid-SEND; the broker keeps nothing of the half frame', async () => {
  const proxy = await proxyTo(STOMP);
  const session = await connect({ broker: brokerThrough(proxy), logger });
  const name = queue('proxy-half');
  const cut = proxy.cutAfterBytes(1_000, 'up');
  const sent = failure(session.send(`/queue/${name}`, 'x'.repeat(64 * 1024)));
  await cut;
  assert.is((await sent).code, 'E_CONNECTION_CLOSED');
  assert.is((await session.closed)?.code, 'E_CONNECTION_CLOSED');
  await proxy.resume();
  // The same queue name, through a healthy connection: only this one message is there.
  const again = await connect({ broker: brokerThrough(proxy), logger });
  await again.send(`/queue/${name}`, 'whole');
  await again.disconnect();
  assert.is(queueDepth(name), 1);
});

// ── Plain sockets: exact bytes, back-pressure, handles ───────────────────────────────────────────

test('cutAfterBytes forwards exactly n bytes, then a FIN; the client sees the end too', async () => {
  const sink = await startSink();
  try {
    const proxy = await proxyTo(sink.target);
    const client = await dialRaw(proxy);
    const clientEnded = new Promise((r) => client.once('end', r));
    const cut = proxy.cutAfterBytes(12_345, 'up');
    client.write(Buffer.alloc(100_000, 7));
    await cut;
    await clientEnded;
    await waitFor(() => sink.ended[0], 5_000);
    assert.is(Buffer.concat(sink.received[0]!).length, 12_345);
    client.destroy();
  } finally {
    await sink.close();
  }
});

test("stall() stops reading from the client: its writes back up; resume() delivers every byte in order", async () => {
  const sink = await startSink();
  try {
    const proxy = await proxyTo(sink.target);
    const client = await dialRaw(proxy);
    proxy.stall();
    const total = 32 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) data.writeUInt32BE(i, i);
    const flushed = new Promise<void>((r) => client.write(data, () => r()));
    assert.not.ok(await settlesWithin(flushed, 1_000), 'the write did not drain');
    assert.ok(client.writableLength > 0, `${client.writableLength} bytes wait in the client`);
    assert.is(sink.received.length, 1, 'connected…');
    assert.is(sink.received[0]!.length, 0, '…but nothing got through');
    await proxy.resume();
    await flushed;
    client.end();
    await waitFor(() => sink.ended[0], 10_000);
    assert.ok(Buffer.concat(sink.received[0]!).equals(data), 'every byte, in order');
  } finally {
    await sink.close();
  }
});

test('a target that refuses: the client is dropped, the process carries on; close() leaves no handle behind', async () => {
  const tcp = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  // A closed handle is listed until its close callback has run, a turn of the loop later.
  const settled = () => waitFor(() => tcp().length === 0, 1_000, 10).catch(() => undefined);
  await settled();
  assert.equal(tcp(), [], 'nothing from the earlier tests is open');

  const sink = await startSink();
  const deadPort = sink.target.port;
  await sink.close();
  const proxy = await startProxy({ target: { host: '127.0.0.1', port: deadPort } });
  const client = await dialRaw(proxy);
  await new Promise((r) => client.once('close', r));

  const live = await startSink();
  const other = await startProxy({ target: live.target });
  const held = await dialRaw(other);
  held.write('some bytes');
  other.stall();
  held.write('held back');
  await Promise.all([proxy.close(), other.close(), proxy.close()]);
  await new Promise((r) => held.once('close', r));
  await live.close();
  await settled();
  assert.equal(tcp(), [], 'no socket or server left');
});

test.run();

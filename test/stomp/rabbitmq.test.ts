/** Our client against the real RabbitMQ: round trips, pipelined bursts, broker errors and closes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, queueDepth, uniqueName } from '../helpers/broker.js';
import { inbox, settle, testBroker } from './support.js';

const logger = silentLogger;
const queues: string[] = [];
const queue = (prefix: string): string => {
  const name = uniqueName(prefix);
  queues.push(name);
  return name;
};

test.after(() => {
  for (const q of queues) deleteQueue(q);
});

test('round trip: tricky headers and a binary body arrive intact, ack by the ack header', async () => {
  const session = await connect({ broker: testBroker(), logger });
  try {
    const name = queue('stomp-rt');
    const box = inbox();
    const sub = session.subscribe(`/queue/${name}`, { ack: 'client-individual', 'prefetch-count': '10' }, (m) => {
      box.push(m);
      session.ack(m);
    });
    await sub.ready;
    const body = Buffer.from([0x00, 0xff, 0x0a, 0x00, 0x0d, 0x0a, 0x5c, 0x3a, 0xe2, 0x82, 0xac, 0x00]);
    const headers = {
      'path': 'C:\\new',
      'a:b': 'c:d',
      'lines': 'one\r\ntwo\nthree\r',
      'back\\slash': '\\\\n',
      'unicode': 'grüße 🚀',
      'persistent': 'true',
    };
    await session.send(`/queue/${name}`, body, { headers });
    const [m] = await box.until(1);
    assert.ok(m);
    assert.equal(m.body, body);
    for (const [k, v] of Object.entries(headers)) assert.is(m.headers[k], v, `header ${k}`);
    assert.is(m.subscription, sub.id);
    assert.is(m.ackId, m.headers.ack);
    await sub.unsubscribe();
    assert.is(queueDepth(name), 0, 'the ACK removed the message');
  } finally {
    await session.disconnect();
  }
  assert.is(await session.closed, undefined, 'a clean disconnect closes with no error');
});

test('broker.onFrame sees the frames going out and coming in', async () => {
  const seen: string[] = [];
  const broker = testBroker({ onFrame: (direction, command, headers) => void seen.push(`${direction} ${command}${headers.receipt ? ' receipt' : ''}${headers['receipt-id'] ? ' receipt-id' : ''}`) });
  const session = await connect({ broker, logger });
  const name = queue('stomp-onframe');
  await session.send(`/queue/${name}`, 'observed');
  await session.disconnect();
  assert.equal(seen, ['out CONNECT', 'in CONNECTED', 'out SEND receipt', 'in RECEIPT receipt-id', 'out DISCONNECT receipt', 'in RECEIPT receipt-id']);
});

test('a pipelined burst of 10,000 persistent sends is confirmed, in order, with a bounded window', async () => {
  const session = await connect({ broker: testBroker(), logger, window: 500 });
  try {
    const name = queue('stomp-burst');
    const n = 10_000;
    let maxPending = 0;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      sends.push(session.send(`/queue/${name}`, JSON.stringify({ i, pad: 'x'.repeat(180) }), { headers: { persistent: 'true' } }));
      maxPending = Math.max(maxPending, session.pending);
    }
    assert.ok(maxPending <= 500, `at most the window is in flight (saw ${maxPending})`);
    await Promise.all(sends);
    assert.is(session.pending, 0);
    assert.is(queueDepth(name), n, 'every confirmed message is in the queue');

    const box = inbox();
    session.subscribe(`/queue/${name}`, { ack: 'auto', 'prefetch-count': '0' }, (m) => box.push(m));
    const received = await box.until(n, 20_000);
    const order = received.map((m) => (JSON.parse(m.body.toString()) as { i: number }).i);
    assert.equal(order, Array.from({ length: n }, (_, i) => i), 'the broker got them in the order send was called');
  } finally {
    await session.disconnect();
  }
});

test('nack requeues (RabbitMQ default), ack removes; a message acked on another connection is ignored', async () => {
  const session = await connect({ broker: testBroker(), logger });
  try {
    const name = queue('stomp-nack');
    const box = inbox();
    const sub = session.subscribe(`/queue/${name}`, { ack: 'client-individual', 'prefetch-count': '1' }, (m) => {
      box.push(m);
      if (box.messages.length === 1) session.nack(m);
      else session.ack(m);
    });
    await sub.ready;
    await session.send(`/queue/${name}`, 'once');
    const [first, second] = await box.until(2);
    assert.is(first!.body.toString(), 'once');
    assert.is(second!.body.toString(), 'once', 'the NACKed message came back');
    assert.is(second!.headers.redelivered, 'true');
    await sub.unsubscribe();
    assert.is(queueDepth(name), 0);
  } finally {
    await session.disconnect();
  }
});

test('unsubscribe stops delivery; a caller-chosen subscription id is used on the wire', async () => {
  const session = await connect({ broker: testBroker(), logger });
  try {
    const name = queue('stomp-unsub');
    const box = inbox();
    const sub = session.subscribe(`/queue/${name}`, { ack: 'auto' }, (m) => box.push(m), 'my-sub');
    assert.is(sub.id, 'my-sub');
    await sub.ready;
    await session.send(`/queue/${name}`, 'a');
    const [m] = await box.until(1);
    assert.is(m!.subscription, 'my-sub');
    await sub.unsubscribe();
    await sub.unsubscribe(); // idempotent
    await session.send(`/queue/${name}`, 'b');
    assert.is(queueDepth(name), 1, 'after UNSUBSCRIBE the message stays in the queue');
    assert.is(box.messages.length, 1);
  } finally {
    await session.disconnect();
  }
});

test('disconnect waits for the receipts already pending, then closes cleanly; later sends are refused', async () => {
  const session = await connect({ broker: testBroker(), logger, window: 100 });
  const name = queue('stomp-drain');
  const sends = Array.from({ length: 2_000 }, (_, i) => session.send(`/queue/${name}`, `m${i}`));
  const disconnected = session.disconnect();
  assert.is(session.disconnect(), disconnected, 'disconnect is idempotent');
  const late = session.send(`/queue/${name}`, 'too late').then(() => undefined, (e: unknown) => e);
  await disconnected;
  const outcome = await settle(sends);
  assert.is(outcome.ok, 2_000, 'every send accepted before disconnect() was confirmed');
  const refused = await late;
  assert.instance(refused, OutboxError);
  assert.is((refused as OutboxError).code, 'E_CONNECTION_CLOSED');
  assert.is(await session.closed, undefined);
  assert.is(queueDepth(name), 2_000);
});

test('send without receipt resolves once written; invalid headers are refused before anything is written', async () => {
  const session = await connect({ broker: testBroker(), logger });
  try {
    const name = queue('stomp-noreceipt');
    await session.send(`/queue/${name}`, 'fire and forget', { receipt: false });
    const bad = await session.send(`/queue/${name}`, 'x', { headers: { evil: 'a\0b' } }).then(() => undefined, (e: unknown) => e);
    assert.is((bad as OutboxError).code, 'E_INVALID_FRAME');
    assert.is(session.pending, 0, 'a refused send frees its window slot');
    await session.send(`/queue/${name}`, 'after');
    assert.is(queueDepth(name), 2);
  } finally {
    await session.disconnect();
  }
});

test('aborting the signal of a connected session disconnects gracefully', async () => {
  const controller = new AbortController();
  const session = await connect({ broker: testBroker(), logger, signal: controller.signal });
  const name = queue('stomp-abort');
  const sends = Array.from({ length: 200 }, (_, i) => session.send(`/queue/${name}`, `m${i}`));
  controller.abort();
  assert.is(await session.closed, undefined);
  assert.is((await settle(sends)).ok, 200);
});

test.run();

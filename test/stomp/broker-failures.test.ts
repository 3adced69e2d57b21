/**
 * What happens to pending work when the real RabbitMQ refuses, errors or drops us: every pending receipt
 * fails with a clear code, nothing is left hanging, and we connect again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { connectWithRetry } from '../../src/stomp/reconnect.js';
import type { StompSession } from '../../src/stomp/types.js';
import { STOMP_HOST, STOMP_PORT, deleteQueue, uniqueName } from '../helpers/broker.js';
import { createVhost, inbox, settle, testBroker } from './support.js';

const logger = silentLogger;
const vhost = createVhost();
const queues: string[] = [];

test.after(() => {
  for (const q of queues) deleteQueue(q);
  vhost.drop();
});

const codeOf = (e: unknown): string | undefined => (e instanceof OutboxError ? e.code : undefined);

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

test('bad credentials: E_BROKER_ERROR quoting the broker, never the passcode', async () => {
  const error = await connect({ broker: testBroker({ login: 'guest', passcode: 'not-the-Passw0rd' }), logger }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.is(codeOf(error), 'E_BROKER_ERROR');
  assert.match((error as Error).message, /access refused|login|auth/i);
  assert.not.match((error as Error).message, /not-the-Passw0rd/);
});

test('failover: a dead first host is skipped; all hosts dead is E_CONNECT', async () => {
  const port = await deadPort();
  const session = await connect({ broker: testBroker({ hosts: [{ host: '127.0.0.1', port }, { host: STOMP_HOST, port: STOMP_PORT }] }), logger });
  assert.is(session.address, `${STOMP_HOST}:${STOMP_PORT}`);
  await session.disconnect();
  const error = await connect({ broker: testBroker({ hosts: [{ host: '127.0.0.1', port }] }), logger }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_CONNECT');
});

test('an ERROR frame (PRECONDITION_FAILED) fails every pending receipt and closes the session', async () => {
  const name = uniqueName('stomp-precondition');
  queues.push(name);
  const owner = await connect({ broker: testBroker(), logger });
  const sender = await connect({ broker: testBroker(), logger });
  try {
    // The queue exists with an argument a plain /queue/ SEND does not declare.
    const sub = owner.subscribe(`/queue/${name}`, { ack: 'auto', 'x-max-length': '1000' }, () => {});
    await sub.ready;
    const sends = Array.from({ length: 300 }, (_, i) => sender.send(`/queue/${name}`, `m${i}`));
    const outcome = await settle(sends);
    assert.is(outcome.ok, 0, 'RabbitMQ refuses the redeclaration before confirming anything');
    assert.is(outcome.errors.length, 300);
    for (const e of outcome.errors) assert.is(codeOf(e), 'E_BROKER_ERROR');
    assert.match((outcome.errors[0] as Error).message, /PRECONDITION_FAILED|inequivalent/);
    const reason = await sender.closed;
    assert.is(reason?.code, 'E_BROKER_ERROR');
    assert.is(sender.pending, 0);
    const after = await sender.send(`/queue/${name}`, 'x').then(() => undefined, (e: unknown) => e);
    assert.is(codeOf(after), 'E_BROKER_ERROR', 'a send after the close fails with the reason');
  } finally {
    sender.destroy();
    await owner.disconnect();
  }
});

test('an ERROR for an unknown destination fails its send and ends the session; a send the broker still confirmed is confirmed', async () => {
  const session = await connect({ broker: testBroker(), logger });
  const bad = session.send('/nowhere/at-all', 'x').then(() => undefined, (e: unknown) => e);
  // RabbitMQ goes on reading after this ERROR: the next SEND may still be confirmed before the close, and a
  // RECEIPT that arrives after an ERROR is the truth for its send (the session reads until the close).
  const next = session.send('/queue/whatever-never-created-x', 'y').then(() => 'ok', (e: unknown) => codeOf(e));
  assert.is(codeOf(await bad), 'E_BROKER_ERROR');
  assert.ok(['ok', 'E_BROKER_ERROR'].includes((await next)!), String(await next));
  assert.is((await session.closed)?.code, 'E_BROKER_ERROR');
  deleteQueue('whatever-never-created-x');
});

test('the broker dropping the connection fails every pending and queued send', async () => {
  const session = await connect({ broker: testBroker({ vhost: vhost.vhost }), logger, window: 200 });
  const name = uniqueName('stomp-drop');
  const sends: Promise<void>[] = [];
  let confirmed = 0;
  for (let i = 0; i < 30_000; i++) sends.push(session.send(`/queue/${name}`, `m${i}`).then(() => void confirmed++));
  const outcomes = settle(sends);
  while (confirmed < 500) await new Promise((r) => setTimeout(r, 10));
  await vhost.closeConnections();
  const outcome = await outcomes;
  assert.ok(outcome.errors.length > 0, 'sends were still pending when the broker closed');
  for (const e of outcome.errors) assert.ok(['E_BROKER_ERROR', 'E_CONNECTION_CLOSED'].includes(codeOf(e)!), String(e));
  assert.ok((await session.closed) instanceof OutboxError);
  assert.is(session.pending, 0);
});

test('reconnect loop: after the broker drops us, a new session comes up and a reused subscription id works', async () => {
  const controller = new AbortController();
  const name = uniqueName('stomp-reconnect');
  const sessions: StompSession[] = [];
  const box = inbox();
  const broker = testBroker({ vhost: vhost.vhost });
  // The loop relay and consumer run: connect, subscribe, wait for the end, go again.
  const loop = (async () => {
    while (!controller.signal.aborted) {
      const session = await connectWithRetry({ broker, logger, signal: controller.signal }).catch(() => undefined);
      if (!session) return;
      sessions.push(session);
      const sub = session.subscribe(`/queue/${name}`, { ack: 'client-individual' }, (m) => {
        box.push(m);
        session.ack(m);
      }, 'orders-sub');
      await sub.ready.catch(() => {});
      await session.closed;
    }
  })();
  const ready = async (n: number): Promise<StompSession> => {
    while (sessions.length < n) await new Promise((r) => setTimeout(r, 20));
    return sessions[n - 1]!;
  };
  const first = await ready(1);
  await first.send(`/queue/${name}`, 'before');
  await box.until(1);
  await vhost.closeConnections();
  assert.instance(await first.closed, OutboxError);
  const second = await ready(2);
  await second.send(`/queue/${name}`, 'after');
  const messages = await box.until(2);
  assert.is(messages[1]!.body.toString(), 'after');
  assert.is(messages[1]!.subscription, 'orders-sub');
  controller.abort();
  await loop;
  assert.is(await second.closed, undefined, 'abort disconnected the live session gracefully');
});

test('connectWithRetry backs off, reports attempts, and stops with E_ABORTED on abort', async () => {
  const port = await deadPort();
  const controller = new AbortController();
  const attempts: Array<{ attempt: number; code: string; delay: number }> = [];
  const error = await connectWithRetry({
    broker: testBroker({ hosts: [{ host: '127.0.0.1', port }], maxBackoff: 0.05 }),
    logger,
    signal: controller.signal,
    onAttempt: ({ attempt, error, delay }) => {
      attempts.push({ attempt, code: error.code, delay });
      if (attempts.length === 3) controller.abort();
    },
  }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_ABORTED');
  assert.equal(attempts.map((a) => a.attempt), [0, 1, 2]);
  for (const a of attempts) {
    assert.is(a.code, 'E_CONNECT');
    assert.is(a.delay, 0.05, 'capped at maxBackoff');
  }
});

test.run();

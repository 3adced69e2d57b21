/**
 * Faults RabbitMQ will not produce on demand, from a scripted server on a real socket. Each must end in the
 * right OutboxError code, with pending work failed, the error logged, and the process still standing.
 */
// @serial: heart-beats of 50-100 ms are a timing measurement: a busy neighbour delaying this process by a tenth of a second fails it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { startFakeStompServer, type FakePeer, type FakeStompServer } from '../helpers/fake-stomp-server.js';
import { settle, testBroker } from './support.js';

const codeOf = (e: unknown): string | undefined => (e instanceof OutboxError ? e.code : undefined);

/** A logger that keeps what it is told, to check what was logged (and that no secret was). */
function recordingLogger(): Logger & { lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (...args: unknown[]) => void lines.push([level, args.map(String).join(' ')]);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const servers: FakeStompServer[] = [];
async function server(script: (peer: FakePeer) => void | Promise<void>): Promise<FakeStompServer> {
  const s = await startFakeStompServer(script);
  servers.push(s);
  return s;
}
test.after(async () => {
  for (const s of servers) await s.close();
});

const brokerFor = (s: FakeStompServer, overrides = {}) => testBroker({ hosts: [s.host], heartbeat: [0, 0], ...overrides });

test('garbage bytes after CONNECTED: E_PROTOCOL, logged, pending sends fail, socket closed', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    await peer.expect('SEND');
    peer.write(Buffer.from([0x16, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef]));
  });
  const logger = recordingLogger();
  const session = await connect({ broker: brokerFor(fake), logger });
  const sends = settle([session.send('/queue/a', 'one'), session.send('/queue/a', 'two')]);
  const outcome = await sends;
  assert.is(outcome.ok, 0);
  for (const e of outcome.errors) assert.is(codeOf(e), 'E_PROTOCOL');
  assert.is((await session.closed)?.code, 'E_PROTOCOL');
  assert.ok(logger.lines.some(([level, line]) => level === 'error' && /malformed/.test(line)), 'the error is logged');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(fake.peers[0]!.socket.destroyed || fake.peers[0]!.socket.readableEnded, 'our side closed the socket');
});

test('garbage instead of CONNECTED: connect rejects with E_PROTOCOL', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.write('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  const error = await connect({ broker: brokerFor(fake), logger: recordingLogger() }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_PROTOCOL');
});

test('a frame cut mid-way, then close: the half frame is dropped, pending receipts fail with E_CONNECTION_CLOSED', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const send = await peer.expect('SEND');
    peer.write(`RECEIPT\nreceipt-id:${send.headers.receipt}\n`); // no blank line, no NUL
    peer.end();
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  const error = await session.send('/queue/a', 'x').then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_CONNECTION_CLOSED');
  assert.is((await session.closed)?.code, 'E_CONNECTION_CLOSED');
  assert.is(session.pending, 0);
});

test('a close without ERROR (how RabbitMQ nacks a publish) fails every pending receipt', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    for (let i = 0; i < 5; i++) await peer.expect('SEND');
    peer.destroy();
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  const outcome = await settle(Array.from({ length: 5 }, (_, i) => session.send('/queue/a', `m${i}`)));
  assert.is(outcome.errors.length, 5);
  for (const e of outcome.errors) assert.is(codeOf(e), 'E_CONNECTION_CLOSED');
});

test('an ERROR without receipt-id fails every pending receipt with the broker message', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    await peer.expect('SEND');
    await peer.expect('SEND');
    peer.frame('ERROR', { message: 'not_found', 'content-type': 'text/plain' }, 'NOT_FOUND - no exchange');
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  const outcome = await settle([session.send('/exchange/x/a', '1'), session.send('/exchange/x/b', '2')]);
  assert.is(outcome.errors.length, 2);
  for (const e of outcome.errors) {
    assert.is(codeOf(e), 'E_BROKER_ERROR');
    assert.match((e as Error).message, /not_found — NOT_FOUND - no exchange/);
  }
});

test('silence past the heart-beat: E_HEARTBEAT_TIMEOUT, and we sent heart-beats meanwhile', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected({ 'heart-beat': '100,100' });
  });
  const session = await connect({ broker: brokerFor(fake, { heartbeat: [100, 100] }), logger: recordingLogger() });
  const pending = session.send('/queue/a', 'never confirmed').then(() => undefined, (e: unknown) => e);
  assert.is((await session.closed)?.code, 'E_HEARTBEAT_TIMEOUT');
  assert.is(codeOf(await pending), 'E_HEARTBEAT_TIMEOUT');
  assert.ok(fake.peers[0]!.heartbeats >= 1, 'EOL heart-beats went out while the peer was quiet');
});

test('a peer that keeps beating stays connected across many heart-beat periods', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected({ 'heart-beat': '50,50' });
    peer.beat(50);
  });
  const session = await connect({ broker: brokerFor(fake, { heartbeat: [50, 50] }), logger: recordingLogger() });
  let ended = false;
  void session.closed.then(() => (ended = true));
  await new Promise((r) => setTimeout(r, 600));
  assert.is(ended, false, 'still open after 12 periods');
  assert.ok(fake.peers[0]!.heartbeats >= 3, `we beat too (${fake.peers[0]!.heartbeats})`);
  await session.disconnect(0.2);
});

test('a server that never answers CONNECT: E_CONNECT_TIMEOUT, then the next host is tried', async () => {
  const mute = await server(() => {});
  const error = await connect({ broker: brokerFor(mute, { connectTimeout: 0.2 }), logger: recordingLogger() }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_CONNECT_TIMEOUT');
  const good = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
  });
  const session = await connect({ broker: testBroker({ hosts: [mute.host, good.host], connectTimeout: 0.2, heartbeat: [0, 0] }), logger: recordingLogger() });
  assert.is(session.address, `${good.host.host}:${good.host.port}`);
  session.destroy();
});

test('no RECEIPT in time: that send fails with E_RECEIPT_TIMEOUT, frees its slot, the session stays up', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    await peer.expect('SEND'); // swallowed
    const second = await peer.expect('SEND');
    peer.frame('RECEIPT', { 'receipt-id': second.headers.receipt! });
  });
  const session = await connect({ broker: brokerFor(fake, { receiptTimeout: 0.2 }), logger: recordingLogger(), window: 1 });
  const first = session.send('/queue/a', 'lost').then(() => undefined, (e: unknown) => e);
  const second = session.send('/queue/a', 'waits for the window');
  assert.is(codeOf(await first), 'E_RECEIPT_TIMEOUT');
  await second;
  assert.is(session.pending, 0);
  session.destroy();
});

test('an oversized frame announced by content-length: E_FRAME_TOO_LARGE at once', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    peer.write('MESSAGE\nsubscription:s1\ncontent-length:999999999\n\n');
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  assert.is((await session.closed)?.code, 'E_FRAME_TOO_LARGE');
});

test('an ERROR instead of CONNECTED: E_BROKER_ERROR; the passcode is never logged or echoed', async () => {
  const fake = await server(async (peer) => {
    const connectFrame = await peer.expect('CONNECT');
    assert.is(connectFrame.headers['accept-version'], '1.2');
    assert.is(connectFrame.headers.host, 'my/vhost');
    peer.frame('ERROR', { message: 'Bad CONNECT' }, 'Access refused for user \'u\'');
  });
  const logger = recordingLogger();
  const seen: Array<Record<string, string>> = [];
  const broker = brokerFor(fake, { vhost: 'my/vhost', login: 'u', passcode: 's3cr3t-pass', onFrame: (_d: string, _c: string, h: Record<string, string>) => void seen.push(h) });
  const error = await connect({ broker, logger }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_BROKER_ERROR');
  assert.match((error as Error).message, /Bad CONNECT/);
  const everything = JSON.stringify([(error as Error).message, logger.lines, seen]);
  assert.not.match(everything, /s3cr3t-pass/);
  assert.is(seen[0]!.passcode, '***', 'onFrame sees CONNECT with the passcode masked');
});

test('a passcode with a line break (CONNECT cannot escape it) is an E_CONFIG, not a crash, and is not echoed', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
  });
  const error = await connect({ broker: brokerFor(fake, { passcode: 'multi\nline-secret' }), logger: recordingLogger() }).then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_CONFIG');
  assert.not.match((error as Error).message, /line-secret/);
});

test('message handlers that throw or reject are logged; delivery goes on', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const sub = await peer.expect('SUBSCRIBE');
    peer.frame('RECEIPT', { 'receipt-id': sub.headers.receipt! });
    for (const n of [1, 2, 3]) peer.frame('MESSAGE', { subscription: sub.headers.id!, 'message-id': `m${n}`, ack: `a${n}` }, String(n));
  });
  const logger = recordingLogger();
  const session = await connect({ broker: brokerFor(fake), logger });
  const got: string[] = [];
  const sub = session.subscribe('/queue/a', { ack: 'client-individual' }, async (m) => {
    got.push(`${m.body}:${m.ackId}`);
    if (m.body.toString() === '1') throw new Error('sync-ish failure');
    if (m.body.toString() === '2') return Promise.reject(new Error('async failure'));
  });
  await sub.ready;
  while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, ['1:a1', '2:a2', '3:a3']);
  assert.is(logger.lines.filter(([level]) => level === 'error').length, 2);
  session.destroy();
});

test('backpressure: with a peer that stops reading, writes wait for drain instead of piling up', async () => {
  let release!: () => void;
  const resumed = new Promise<void>((r) => (release = r));
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    peer.socket.pause();
    await resumed;
    peer.socket.resume();
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  const big = Buffer.alloc(1024 * 1024, 0x61);
  let written = 0;
  const writes = Array.from({ length: 64 }, () => session.send('/queue/a', big, { receipt: false }).then(() => void written++));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(written < 64, `sends waited for the socket to drain (${written} of 64 resolved)`);
  release();
  await Promise.all(writes);
  assert.is(written, 64);
  session.destroy();
});

test.run();

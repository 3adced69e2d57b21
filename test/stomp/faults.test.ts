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
import { createReceipts } from '../../src/stomp/receipts.js';
import type { StompMessage } from '../../src/stomp/types.js';
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

test('no RECEIPT in time: the connection is dead — every pending send fails with E_RECEIPT_TIMEOUT and the session closes', async () => {
  // Confirms come in order: when one is overdue, none after it will come on this connection either. A
  // session that stayed up would hand the slot to the next send and pile frames behind a broker that has
  // stopped reading (a resource alarm), resending each row once per timeout.
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    await peer.expect('SEND'); // swallowed
    await peer.expect('SEND'); // swallowed too
  });
  const session = await connect({ broker: brokerFor(fake, { receiptTimeout: 0.2 }), logger: recordingLogger(), window: 2 });
  const first = session.send('/queue/a', 'lost').then(() => undefined, (e: unknown) => e);
  const second = session.send('/queue/a', 'also lost').then(() => undefined, (e: unknown) => e);
  const third = session.send('/queue/a', 'waits for the window').then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(await first), 'E_RECEIPT_TIMEOUT');
  assert.is(codeOf(await second), 'E_RECEIPT_TIMEOUT');
  assert.is(codeOf(await third), 'E_RECEIPT_TIMEOUT', 'a send still waiting for a slot fails with the connection');
  assert.is((await session.closed)?.code, 'E_RECEIPT_TIMEOUT');
  assert.is(session.pending, 0);
});

test('several ERROR frames before the close: the connection ends with all of them; a RECEIPT among them still confirms', async () => {
  // What RabbitMQ does answering a pipelined batch with a refused destination: a generic ERROR first, the
  // one naming the queue later, then the close. Judging by the first frame would blame the wrong send.
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const ok = await peer.expect('SEND');
    const bad = await peer.expect('SEND');
    void bad;
    peer.frame('ERROR', { message: 'Processing error' }, 'Processing error');
    peer.frame('RECEIPT', { 'receipt-id': ok.headers.receipt! });
    peer.frame('ERROR', { message: 'not_found' }, "NOT_FOUND - no exchange 'billing' in vhost '/'");
    peer.end();
  });
  const session = await connect({ broker: brokerFor(fake), logger: recordingLogger() });
  const ok = session.send('/queue/ok', 'fine');
  const bad = session.send('/exchange/billing/x', 'refused').then(() => undefined, (e: unknown) => e);
  await ok;
  const reason = await session.closed;
  assert.is(reason?.code, 'E_BROKER_ERROR');
  assert.match(reason!.message, /Processing error/);
  assert.match(reason!.message, /no exchange 'billing'/, 'the ERROR that names the culprit is part of the reason');
  assert.is(codeOf(await bad), 'E_BROKER_ERROR');
  assert.match((await bad as Error).message, /no exchange 'billing'/, 'the failed send carries every ERROR');
});

test("a receipt's deadline starts when its frame is handed to the socket, not when it is queued", async () => {
  const timeouts: string[] = [];
  const receipts = createReceipts(100, (e) => timeouts.push(e.code));
  receipts.register('SEND', '/queue/a', () => {}, () => {});
  // Queued behind a socket that does not take bytes (the broker stopped reading): no deadline runs.
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(timeouts, [], 'nothing times out while the frame has not been written');
  receipts.written();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(timeouts, [], 'the deadline counts from the write');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(timeouts, ['E_RECEIPT_TIMEOUT']);
  receipts.failAll(new OutboxError('E_CONNECTION_CLOSED', 'done'));
});

test('MESSAGEs over the limits reach their subscription flagged, bodiless, with their ack id; NACKed, the session goes on', async () => {
  const manyHeaders = Object.fromEntries(Array.from({ length: 1100 }, (_, k) => [`h${k}`, 'v']));
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const sub = await peer.expect('SUBSCRIBE');
    peer.frame('RECEIPT', { 'receipt-id': sub.headers.receipt! });
    const s = sub.headers.id!;
    peer.frame('MESSAGE', { subscription: s, 'message-id': 'm1', ack: 'a1' }, 'one');
    // Past the 1000th header: only what settles it is still read.
    peer.frame('MESSAGE', { ...manyHeaders, subscription: s, 'message-id': 'm2', ack: 'a2', 'dop-msg-id': 'd2' }, 'two');
    peer.frame('MESSAGE', { subscription: s, 'message-id': 'm3', ack: 'a3' }, Buffer.alloc(17 * 1024 * 1024, 0x33));
    peer.frame('MESSAGE', { subscription: s, 'message-id': 'm4', ack: 'a4' }, 'four');
  });
  const logger = recordingLogger();
  const session = await connect({ broker: brokerFor(fake), logger });
  const got: StompMessage[] = [];
  const sub = session.subscribe('/queue/a', { ack: 'client-individual' }, (m) => {
    got.push(m);
    if (m.discarded) session.nack(m, { requeue: 'false' });
    else session.ack(m);
  });
  await sub.ready;
  const peer = fake.peers[0]!;
  const settled = [await peer.expect(), await peer.expect(), await peer.expect(), await peer.expect()];
  assert.equal(settled.map((f) => `${f.command} ${f.headers.id}`), ['ACK a1', 'NACK a2', 'NACK a3', 'ACK a4']);
  assert.equal(got.map((m) => m.body.toString()), ['one', '', '', 'four']);
  assert.equal(got.map((m) => m.discarded?.code), [undefined, 'E_FRAME_TOO_LARGE', 'E_FRAME_TOO_LARGE', undefined]);
  assert.ok(!('discarded' in got[0]!), 'a message within the limits is as it was');
  assert.match(got[1]!.discarded!.message, /1105 headers, 105 over maxHeaders 1000/);
  assert.is(got[1]!.headers['dop-msg-id'], 'd2');
  assert.match(got[2]!.discarded!.message, /over maxFrameSize 16777216/);
  assert.is(logger.lines.filter(([level, line]) => level === 'warn' && /discarded/.test(line)).length, 2, 'each is logged');
  assert.is(session.pending, 0);
  await session.send('/queue/a', 'still connected', { receipt: false });
  session.destroy();
});

test('a MESSAGE whose content-length lies reaches its subscription flagged E_PROTOCOL, and its NACK goes out before the close', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const sub = await peer.expect('SUBSCRIBE');
    peer.frame('RECEIPT', { 'receipt-id': sub.headers.receipt! });
    // content-length 2, a body of 5: where the body should end there is no NUL.
    peer.write(`MESSAGE\nsubscription:${sub.headers.id}\nmessage-id:m1\nack:a1\ndop-msg-id:d1\ncontent-length:2\n\nhello\0`);
  });
  const logger = recordingLogger();
  const session = await connect({ broker: brokerFor(fake), logger });
  const got: StompMessage[] = [];
  const sub = session.subscribe('/queue/a', { ack: 'client-individual' }, (m) => {
    got.push(m);
    if (m.discarded) session.nack(m, { requeue: 'false' });
  });
  await sub.ready;
  const nack = await fake.peers[0]!.expect();
  assert.equal([nack.command, nack.headers.id, nack.headers.requeue], ['NACK', 'a1', 'false']);
  const reason = await session.closed;
  assert.is(codeOf(reason), 'E_PROTOCOL');
  assert.equal(got.map((m) => [m.discarded?.code, m.headers['dop-msg-id'], m.body.length]), [['E_PROTOCOL', 'd1', 0]]);
  assert.match(got[0]!.discarded!.message, /body does not end where its content-length \(2\) says/);
});

test('a RECEIPT over the limits: E_FRAME_TOO_LARGE once it has been skipped, and the connection closes', async () => {
  const fake = await server(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
    const send = await peer.expect('SEND');
    peer.frame('RECEIPT', { 'receipt-id': send.headers.receipt! }, Buffer.alloc(17 * 1024 * 1024));
  });
  const logger = recordingLogger();
  const session = await connect({ broker: brokerFor(fake), logger });
  const error = await session.send('/queue/a', 'x').then(() => undefined, (e: unknown) => e);
  assert.is(codeOf(error), 'E_FRAME_TOO_LARGE');
  assert.is((await session.closed)?.code, 'E_FRAME_TOO_LARGE');
  assert.ok(logger.lines.some(([level, line]) => level === 'error' && /RECEIPT frame discarded/.test(line)), 'the error is logged');
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

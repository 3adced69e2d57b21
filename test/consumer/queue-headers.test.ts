/**
 * consumer.queueHeaders that cannot be put in a SUBSCRIBE frame: createConsumer refuses them with E_CONFIG
 * at once, and a SUBSCRIBE whose encoding fails leaves nothing behind (no receipt that rejects later, which
 * the CLI would see as an unhandled rejection and exit 1).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConsumer } from '../../src/consumer/consumer.js';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startFakeStompServer } from '../helpers/fake-stomp-server.js';
import { sleep, testConfig } from './helpers/env.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t?.drop();
});

const config = (queueHeaders: Record<string, unknown>) =>
  testConfig('postgres://unused@127.0.0.1:1/none', { queueHeaders: queueHeaders as Record<string, string> });

const create = (queueHeaders: Record<string, unknown>) =>
  createConsumer({ db: t.db, config: config(queueHeaders), handler: () => {}, destination: '/topic/x', logger: silentLogger });

function configError(fn: () => unknown): OutboxError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, OutboxError);
    assert.is((error as OutboxError).code, 'E_CONFIG', (error as Error).message);
    return error as OutboxError;
  }
  assert.unreachable('expected E_CONFIG');
  throw new Error('unreachable');
}

test('an empty header name is E_CONFIG from createConsumer, naming consumer.queueHeaders', () => {
  const e = configError(() => create({ '': 'x' }));
  assert.match(e.message, /consumer\.queueHeaders/);
  assert.match(e.message, /empty name/);
});

test('a value that is not a string (object, null, undefined) is E_CONFIG naming the header', () => {
  for (const value of [{ a: 1 }, null, undefined, ['x']]) {
    const e = configError(() => create({ 'x-max-length': value }));
    assert.match(e.message, /x-max-length/);
  }
});

test('NUL in a header name or value is E_CONFIG (STOMP cannot carry it)', () => {
  assert.match(configError(() => create({ 'a\0b': 'x' })).message, /NUL/);
  assert.match(configError(() => create({ 'x-queue-type': 'quo\0rum' })).message, /x-queue-type/);
});

test('valid headers (including Python-style True/False and numbers) are accepted', () => {
  const c = create({ 'x-queue-type': 'quorum', 'x-single-active-consumer': 'True', 'x-max-length': 10 as unknown as string });
  assert.type(c.run, 'function');
});

test('a SUBSCRIBE that cannot be encoded throws at once and leaves no receipt to reject later', async () => {
  const server = await startFakeStompServer(async (peer) => {
    await peer.expect('CONNECT');
    peer.connected();
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const broker = { ...testConfig('postgres://unused').broker, hosts: [server.host], heartbeat: [0, 0] as [number, number], receiptTimeout: 0.3 };
  const session = await connect({ broker, logger: silentLogger });
  try {
    let thrown: unknown;
    try {
      session.subscribe('/topic/x', { '': 'bad' }, () => {});
    } catch (error) {
      thrown = error;
    }
    assert.instance(thrown, OutboxError);
    assert.is((thrown as OutboxError).code, 'E_INVALID_FRAME');
    // Past the receipt timeout: a receipt registered for the frame that was never written would reject now.
    await sleep(800);
    assert.equal(unhandled, []);
    // The session is still usable: the same subscription id can be used for a valid SUBSCRIBE.
    const sub = session.subscribe('/topic/x', { ok: 'yes' }, () => {});
    sub.ready.catch(() => {});
  } finally {
    process.off('unhandledRejection', onUnhandled);
    session.destroy();
    await server.close();
  }
});

test.run();

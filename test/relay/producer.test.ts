/** createProducer: a direct send, confirmed by the broker, in the relay's wire format. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isOutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { createProducer } from '../../src/producer/producer.js';
import { withCorrelationId } from '../../src/publish/correlation.js';
import { deleteQueue, uniqueName } from '../helpers/broker.js';
import { testConfig } from './rows.js';
import { readQueue } from './support.js';

const queue = uniqueName('producer');
const config = testConfig('postgres://unused@127.0.0.1/unused');
test.after(() => deleteQueue(queue));

test('send resolves with the dop-msg-id once confirmed; the message carries the wire-format headers', async () => {
  const producer = createProducer(config, { logger: silentLogger });
  const id = await withCorrelationId('corr-42', () => producer.send(`/queue/${queue}`, { total: 12.5, at: new Date(0) }, { 'x-source': 'test' }));
  const second = await producer.send(`/queue/${queue}`, 'just a string');
  await producer.close();
  const [m, m2] = await readQueue(config, queue, 2);
  assert.is(m!.headers['dop-msg-id'], id);
  assert.is(m!.headers['dop-msg-destination'], `/queue/${queue}`);
  assert.is(m!.headers['dop-msg-type'], 'Published');
  assert.ok(!Number.isNaN(Date.parse(m!.headers['dop-msg-sent-time']!)), 'dop-msg-sent-time is ISO-8601');
  assert.is(m!.headers['dop-correlation-id'], 'corr-42');
  assert.is(m!.headers['x-source'], 'test');
  assert.is(m!.headers['content-type'], 'application/json');
  assert.is(m!.headers.persistent, 'true');
  assert.equal(JSON.parse(m!.body.toString()), { total: 12.5, at: '1970-01-01T00:00:00.000Z' });
  assert.is(m2!.headers['dop-msg-id'], second);
  assert.is(JSON.parse(m2!.body.toString()), 'just a string');
  assert.is(m!.headers['dop-correlation-id'] === m2!.headers['dop-correlation-id'], false, 'a fresh correlation id outside a context');
});

test('mistakes are refused before sending; an unreachable broker is an E_CONNECT error; close is idempotent', async () => {
  const producer = createProducer(config, { logger: silentLogger });
  const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e) => (isOutboxError(e) ? e.code : String(e)));
  assert.is(await codeOf(producer.send('orders', {})), 'E_INVALID_DESTINATION');
  assert.is(await codeOf(producer.send(`/queue/${queue}`, { n: NaN })), 'E_NOT_JSON');
  assert.is(await codeOf(producer.send(`/queue/${queue}`, {}, { 'dop-msg-id': 'mine' })), 'E_INVALID_HEADER');
  const a = producer.close();
  assert.is(producer.close(), a);
  await a;
  assert.is(await codeOf(producer.send(`/queue/${queue}`, {})), 'E_ABORTED');

  const nowhere = createProducer({ ...config, broker: { ...config.broker, hosts: [{ host: '127.0.0.1', port: 1 }], connectTimeout: 2 } }, { logger: silentLogger });
  assert.is(await codeOf(nowhere.send(`/queue/${queue}`, {})), 'E_CONNECT');
  await nowhere.close();
});

test.run();

/** Our client against the real RabbitMQ: round trips, pipelined bursts, broker errors and closes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, queueDepth, uniqueName } from '../helpers/broker.js';
import { inbox, testBroker } from './support.js';

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

test.run();

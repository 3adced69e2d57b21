/** Heart-beats: the spec's negotiation maths, and liveness against the real RabbitMQ. */
// @serial: idles across 1 s heart-beats with RabbitMQ, a timing measurement a busy neighbour can upset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import { backoffSeconds } from '../../src/util/backoff.js';
import { connect } from '../../src/stomp/connect.js';
import { negotiateHeartbeat, parseHeartbeat, startHeartbeat } from '../../src/stomp/heartbeat.js';
import { deleteQueue, queueDepth, uniqueName } from '../helpers/broker.js';
import { testBroker } from './support.js';

test('negotiation: max of what one side can do and the other wants; 0 on either side disables', () => {
  assert.equal(negotiateHeartbeat([10_000, 10_000], '5000,20000'), { send: 20_000, receive: 10_000 });
  assert.equal(negotiateHeartbeat([1000, 0], '1000,1000'), { send: 1000, receive: 0 });
  assert.equal(negotiateHeartbeat([0, 1000], '1000,1000'), { send: 0, receive: 1000 });
  assert.equal(negotiateHeartbeat([1000, 1000], '0,0'), { send: 0, receive: 0 });
  assert.equal(negotiateHeartbeat([1000, 1000], undefined), { send: 0, receive: 0 }, 'a missing header is 0,0');
  assert.equal(parseHeartbeat(' 100 , x'), [100, 0]);
});

test('a stall of our own event loop is not the peer going silent; real silence still is', async () => {
  // Timers run before pending socket reads: after a long synchronous task the silence check would see the
  // whole stall as the peer's (measured: "sent nothing for 35 s" on a starved machine, bytes unread).
  const silences: number[] = [];
  const monitor = startHeartbeat({ send: 0, receive: 100 }, () => {}, (ms) => silences.push(ms));
  await new Promise((r) => setTimeout(r, 20));
  setImmediate(() => monitor.read()); // the peer's bytes, read once the loop is free again
  const until = Date.now() + 600;
  while (Date.now() < until) {
    /* blocked */
  }
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(silences, [], 'no silence reported for our own stall');
  await new Promise((r) => setTimeout(r, 400));
  monitor.stop();
  assert.ok(silences.length > 0, 'a peer that then says nothing for two periods is still noticed');
});

test('backoff: min(2^n + jitter, max), jitter below one second', () => {
  assert.is(backoffSeconds(0, 3600, () => 0), 1);
  assert.is(backoffSeconds(3, 3600, () => 0.5), 8.5);
  assert.is(backoffSeconds(30, 3600, () => 0.99), 3600);
  assert.is(backoffSeconds(5000, 60, () => 0), 60, 'no overflow for large attempt numbers');
  for (let n = 0; n < 10; n++) {
    const s = backoffSeconds(n, 1e9);
    assert.ok(s >= 2 ** n && s < 2 ** n + 1);
  }
});

test('RabbitMQ: heart-beats [1000,1000] are negotiated and the connection stays up across several periods', async () => {
  const session = await connect({ broker: testBroker({ heartbeat: [1000, 1000] }), logger: silentLogger });
  const name = uniqueName('stomp-hb');
  try {
    assert.is(session.server['heart-beat'], '1000,1000');
    assert.equal(session.heartbeat, { send: 1000, receive: 1000 });
    let ended = false;
    void session.closed.then(() => (ended = true));
    // Idle for over four periods in each direction: only heart-beats cross the wire.
    await new Promise((r) => setTimeout(r, 4_500));
    assert.is(ended, false, 'neither side gave up on the other');
    await session.send(`/queue/${name}`, 'still alive');
    assert.is(queueDepth(name), 1);
  } finally {
    await session.disconnect();
    deleteQueue(name);
  }
});

test.run();

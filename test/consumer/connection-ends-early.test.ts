/**
 * The connection ends between CONNECTED and SUBSCRIBE — RabbitMQ's ERROR `connection_closing` (a forced
 * close), or input the client cannot parse. Whatever the close reason's code, the consumer reconnects and
 * subscribes again: a broker disconnect never ends `run()` (nor, through it, the CLI).
 *
 * A scripted broker on a real socket (RabbitMQ cannot be made to close a connection at exactly that point):
 * its first connection fails right after CONNECTED; the later ones accept SUBSCRIBE and deliver one message.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import type { Frame } from '../../src/stomp/types.js';
import { waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startFakeStompServer, type FakePeer } from '../helpers/fake-stomp-server.js';
import { startConsumer, testConfig } from './helpers/env.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t?.drop();
});

const destination = '/topic/early-end';

/** A broker that answers receipts, delivers one message to each subscription of `destination`, and records ACKs. */
async function behave(peer: FakePeer, acks: string[], messageId: string): Promise<void> {
  for (;;) {
    let frame: Frame;
    try {
      frame = await peer.expect();
    } catch {
      return;
    }
    if (frame.headers.receipt) peer.frame('RECEIPT', { 'receipt-id': frame.headers.receipt });
    if (frame.command === 'SUBSCRIBE' && frame.headers.destination === destination) {
      peer.frame(
        'MESSAGE',
        { subscription: frame.headers.id!, 'message-id': 'm-1', ack: 'a-1', destination, 'dop-msg-id': messageId, 'content-type': 'application/json' },
        '{"n":1}',
      );
    }
    if (frame.command === 'ACK') acks.push(frame.headers.id!);
    if (frame.command === 'DISCONNECT') return peer.end();
  }
}

async function scenario(name: string, failFirst: (peer: FakePeer) => void): Promise<void> {
  test(`${name} right after CONNECTED: the consumer reconnects, subscribes, and handles the message`, async () => {
    const acks: string[] = [];
    const messageId = randomUUID();
    let connections = 0;
    const server = await startFakeStompServer(async (peer) => {
      const index = connections++;
      await peer.expect('CONNECT');
      peer.connected();
      if (index === 0) return failFirst(peer);
      await behave(peer, acks, messageId);
    });
    const config = testConfig(t.url, {}, [0, 0]);
    config.broker.hosts = [server.host];
    const handled: string[] = [];
    const handler = async (p: Payload) => {
      await t.db.transaction(async (tx) => {
        await p.save(tx);
      });
      handled.push(p.messageId);
    };
    let outcome: string | undefined;
    const { consumer, running } = startConsumer({ db: t.db, config, handler, destination, queue: 'early-end' });
    running.then(
      () => (outcome ??= 'resolved'),
      (error: Error) => (outcome ??= `rejected: ${error.message}`),
    );
    try {
      await waitFor(() => acks.length > 0 || outcome !== undefined, 15_000);
      assert.is(outcome, undefined, 'run() is still running after the connection ended');
      assert.equal(handled, [messageId]);
      assert.equal(acks, ['a-1']);
      assert.ok(connections >= 3, `a new connection after the failed one (${connections})`);
    } finally {
      await consumer.stop();
      await running.catch(() => {});
      await server.close();
    }
    assert.is(outcome, 'resolved', 'run() resolves on stop()');
  });
}

// RabbitMQ's words when an operator or a shutdown closes the connection (CONNECTION_FORCED).
scenario('ERROR connection_closing', (peer) => {
  peer.frame('ERROR', { message: 'connection_closing' }, 'CONNECTION_FORCED - broker forced connection closure');
  peer.end();
});

scenario('input that is not STOMP (E_PROTOCOL)', (peer) => {
  peer.write('HELLO\n\n\0');
});

test.run();

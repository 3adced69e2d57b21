/** STOMP against the real RabbitMQ keeps the Publisher contract (the suite in ./conformance.ts). */
import { test } from 'uvu';
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { StompMessage } from '../../src/stomp/types.js';
import { deleteQueue, STOMP_HOST, STOMP_PORT, uniqueName } from '../helpers/broker.js';
import { publisherConformance } from './conformance.js';

const broker = resolveConfig({ broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }], heartbeat: [0, 0] } }, {}).broker;
const queues: string[] = [];

publisherConformance({
  name: 'stomp (RabbitMQ)',
  open: () => connect({ broker, logger: silentLogger }),
  async destination() {
    const queue = uniqueName('conformance');
    queues.push(queue);
    const destination = `/queue/${queue}`;
    // Declared and subscribed before anything is sent, so the reader sees every message in order.
    const reader = await connect({ broker, logger: silentLogger });
    const got: StompMessage[] = [];
    const sub = reader.subscribe(destination, { ack: 'auto', durable: 'true', 'auto-delete': 'false' }, (m) => got.push(m));
    await sub.ready;
    return {
      destination,
      async read(count) {
        const until = Date.now() + 30_000;
        while (got.length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await reader.disconnect();
        return got.map((m) => ({ body: m.body.toString('utf8'), headers: m.headers }));
      },
    };
  },
  async refused() {
    // RabbitMQ refuses a publish to an exchange that does not exist (NOT_FOUND) and closes the connection.
    return `/exchange/${uniqueName('no-such-exchange')}/key`;
  },
  cleanup() {
    for (const q of queues) deleteQueue(q);
  },
});

test.run();

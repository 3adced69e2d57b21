/**
 * The conformance harness of the STOMP transport against one real broker (stomp.test.ts: RabbitMQ,
 * activemq.test.ts: ActiveMQ): what differs between them is the refused destination and the clean-up.
 */
import { resolveConfig } from '../../src/config/resolve.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { StompMessage, StompSession } from '../../src/stomp/types.js';
import { uniqueName } from '../helpers/broker.js';
import type { TransportHarness } from './conformance.js';

export interface StompHarnessOptions {
  name: string;
  port: number;
  refused(): string;
  confirmsAfterRefusal?: boolean;
  /**
   * Called with the queues of the publishing cases. The consuming cases' queues expire on their own
   * (RabbitMQ: the suite's `x-expires`; ActiveMQ: the broker drops empty queues nobody consumes).
   */
  cleanup(queues: string[]): void;
}

export function stompHarness(options: StompHarnessOptions): TransportHarness {
  const broker = (heartbeat: [number, number] = [0, 0]) =>
    resolveConfig({ broker: { hosts: [{ host: '127.0.0.1', port: options.port }], heartbeat } }, {}).broker;
  const queues: string[] = [];
  // Every session the suite opened; those a case left open (a reader it never read) are closed at the end.
  const sessions = new Set<StompSession>();
  const open = async (heartbeat?: [number, number]) => {
    const session = await connect({ broker: broker(heartbeat), logger: silentLogger });
    sessions.add(session);
    return session;
  };
  const queue = (): string => uniqueName('conformance');
  return {
    name: options.name,
    open: () => open(),
    async destination() {
      const name = queue();
      queues.push(name);
      const destination = `/queue/${name}`;
      // Declared and subscribed before anything is sent, so the reader sees every message in order.
      const reader = await open();
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
    refused: async () => options.refused(),
    confirmsAfterRefusal: options.confirmsAfterRefusal,
    consuming: {
      open,
      queue,
    },
    cleanup() {
      for (const session of sessions) session.destroy();
      options.cleanup(queues);
    },
  };
}

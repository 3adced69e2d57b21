// @offline: no database, no broker
/** The in-memory transport keeps the Publisher contract (the suite in ./conformance.ts). */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import { createMemoryBroker } from '../../src/transport/memory.js';
import { publisherConformance } from './conformance.js';

const broker = createMemoryBroker();
const never = new AbortController().signal;

publisherConformance({
  name: 'memory',
  open: () => broker.connect(never),
  async destination() {
    const destination = `/queue/${randomUUID()}`;
    return {
      destination,
      async read(count) {
        while (broker.messages(destination).length < count) await new Promise((r) => setTimeout(r, 5));
        return broker.messages(destination).map(({ body, headers }) => ({ body, headers }));
      },
    };
  },
  async refused() {
    const destination = `/queue/refused-${randomUUID()}`;
    broker.refuse(destination);
    return destination;
  },
});

test.run();

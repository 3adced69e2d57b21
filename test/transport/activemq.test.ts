/** STOMP against the real ActiveMQ Classic keeps the transport contract (the suite in ./conformance.ts). */
import { test } from 'uvu';
import { ACTIVEMQ_PORT, uniqueName } from '../helpers/broker.js';
import { publisherConformance } from './conformance.js';
import { stompHarness } from './stomp-harness.js';

publisherConformance(
  stompHarness({
    name: 'stomp (ActiveMQ)',
    port: ACTIVEMQ_PORT,
    // A temporary queue that does not exist: ActiveMQ answers that SEND with an ERROR (its receipt-id set)
    // naming temp-queue://…, and confirms the SENDs after it.
    refused: () => `/remote-temp-queue/ID:${uniqueName('no-such-temp-queue')}:1:1`,
    confirmsAfterRefusal: true,
    // Every queue the suite used is drained by it: the broker drops empty queues nobody consumes after a
    // minute (scripts/activemq/activemq.xml). STOMP cannot delete a queue on ActiveMQ.
    cleanup() {},
  }),
);

test.run();

/** STOMP against the real RabbitMQ keeps the transport contract (the suite in ./conformance.ts). */
import { test } from 'uvu';
import { deleteQueue, STOMP_PORT, uniqueName } from '../helpers/broker.js';
import { publisherConformance } from './conformance.js';
import { stompHarness } from './stomp-harness.js';

publisherConformance(
  stompHarness({
    name: 'stomp (RabbitMQ)',
    port: STOMP_PORT,
    // RabbitMQ refuses a publish to an exchange that does not exist (NOT_FOUND) and closes the connection.
    refused: () => `/exchange/${uniqueName('no-such-exchange')}/key`,
    cleanup(queues) {
      for (const q of queues) deleteQueue(q);
    },
  }),
);

test.run();

// The demo's outbox config: what you write in your own project (there: `from 'drizzle-outbox'`).
import { defineConfig } from '../../src/index.js';
import { orders } from './schema.js';

export default defineConfig({
  out: './outbox',
  models: {
    order: {
      table: orders,
      publish: [
        // Every column (plus id) to everyone interested in orders.
        { destination: '/topic/demo-orders' },
        // Billing only needs the amount, in cents, under a versioned routing key: /topic/demo-billing.v1
        { destination: '/topic/demo-billing', version: 'v1', serializer: (o) => ({ orderId: o.id, cents: Math.round(Number(o.total) * 100) }) },
      ],
    },
  },
  // The demo runs on the embedded database (npm run demo points it at a temporary directory).
  database: { pglite: './.outbox-data' },
  relay: { progressInterval: 0 },
});

// @long: about a minute; started first so the run does not wait on it at the end.
/** `npm run demo` (the README's first command) works, says what happened, and leaves no queue behind. */
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { queueDepth } from '../helpers/broker.js';

test('the demo relays every committed event, the consumer applies each once and absorbs a redelivery; exit 0', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', DATABASE_URL: '' },
    timeout: 120_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  assert.is(r.status, 0, out);
  assert.match(out, /outbox now: 6 pending, 0 sent/);
  assert.match(out, /relay: stopped \(6 sent, 0 failed/);

  // The library's consumer: one transaction per event, a shipment only for the paid order.
  assert.match(out, /the shipping consumer: 3 order event\(s\)/);
  assert.match(out, /order 1 new\s+→ nothing to ship yet .*correlation req-checkout-1/);
  assert.match(out, /order 2 new\s+→ nothing to ship yet .*correlation req-checkout-1/);
  assert.match(out, /order 1 paid → shipment #1 written .*correlation req-payment-7/);
  assert.match(out, /billing's plain subscription: 3 message\(s\)/);
  assert.match(out, /\{"cents":4250,"orderId":1\}/);

  // The redelivery: acked without running the handler, and still one shipment.
  const paidId = /order 1 paid → .*dop-msg-id (\w{8})…/.exec(out)?.[1];
  assert.ok(paidId, out);
  assert.match(out, new RegExp(`consumer: message ${paidId}[-\\w]* was already handled[^\\n]*: acking it without running the handler`));
  assert.match(out, /shipments: 1 — the handler's effect happened once, the duplicate was acked/);
  assert.match(out, /stopped \(received 4, acked 3, recorded 1\)/);
  assert.match(out, /outbox now: 6 sent, 0 pending, 0 failed · inbox: 3 message ids/);
  assert.match(out, /the shipment was written once although its event came twice/);

  // Its queues (auto-delete) are gone.
  const suffix = /queue demo-orders-(\w+)/.exec(out)?.[1];
  assert.ok(suffix, out);
  for (const queue of [`demo-orders-${suffix}`, `DLQ.demo-orders-${suffix}`, `demo-billing.v1-${suffix}`]) {
    assert.is(queueDepth(queue), undefined, `${queue} was left behind`);
  }
});

test.run();

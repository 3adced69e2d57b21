/**
 * Consumer lanes: with concurrency 16, messages of one outbox-key are handled one at a time, in arrival order,
 * while different keys — and messages without a key — run side by side. Handlers take random time, so
 * without lanes a key's later message regularly starts (and finishes) before its earlier one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Payload } from '../../src/consumer/types.js';
import type { StompSession } from '../../src/stomp/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cleanupQueues, dop, publish, publisher, queueCounts, sleep, startConsumer, testConfig } from '../consumer/helpers/env.js';

let t: TestDatabase;
let pub: StompSession;
const queue = uniqueName('ordering-lanes');

test.before(async () => {
  t = await createTestDatabase();
  pub = await publisher(testConfig(t.url));
});
test.after(async () => {
  await pub?.disconnect();
  cleanupQueues(queue);
  await t?.drop();
});

test('concurrency 16, 100 keys × 10 messages in random key order + 200 unkeyed, random handler delays: per key, handled one at a time in arrival order', async () => {
  const KEYS = 100;
  const PER_KEY = 10;
  const UNKEYED = 200;
  const destination = `/topic/${queue}`;
  const config = testConfig(t.url, { concurrency: 16, prefetchCount: 16 });
  const starts: Array<{ key: string | undefined; seq: number }> = [];
  const running = new Map<string, number>();
  let overlapSameKey = 0;
  let active = 0;
  let maxActive = 0;
  let unkeyedActive = 0;
  let maxUnkeyedActive = 0;
  let done = 0;
  const handler = async (p: Payload<any>) => {
    const key = p.headers['outbox-key'];
    starts.push({ key, seq: Number(p.headers['outbox-key-seq'] ?? 0) });
    active++;
    maxActive = Math.max(maxActive, active);
    if (key !== undefined) {
      running.set(key, (running.get(key) ?? 0) + 1);
      if (running.get(key)! > 1) overlapSameKey++;
    } else {
      unkeyedActive++;
      maxUnkeyedActive = Math.max(maxUnkeyedActive, unkeyedActive);
    }
    await sleep(Math.random() * 6);
    await t.db.transaction((tx) => p.save(tx));
    if (key !== undefined) running.set(key, running.get(key)! - 1);
    else unkeyedActive--;
    active--;
    done++;
  };
  const { consumer, running: consuming } = startConsumer({ db: t.db, config, handler, destination, queue });
  try {
    await waitFor(() => queueCounts(queue) !== undefined, 30_000);
    // Keys in random order (each key's messages in its own order), an unkeyed message every sixth: with 16
    // slots, messages of one key often arrive close enough to run together. Arrival order is this order.
    const next = new Array<number>(KEYS).fill(0);
    const left = Array.from({ length: KEYS * PER_KEY }, (_, i) => i % KEYS).sort(() => Math.random() - 0.5);
    let unkeyed = 0;
    for (const [i, k] of left.entries()) {
      const seq = ++next[k]!;
      await publish(pub, destination, { k, seq }, dop(undefined, { 'outbox-key': `key-${k}`, 'outbox-key-seq': String(seq) }));
      if (i % 5 === 0 && unkeyed < UNKEYED) {
        unkeyed++;
        await publish(pub, destination, { unkeyed }, dop());
      }
    }
    await waitFor(() => done === KEYS * PER_KEY + UNKEYED, 60_000, 50);
  } finally {
    await consumer.stop();
    await consuming;
  }
  assert.is(overlapSameKey, 0, 'no two handlers of one key ran at once');
  const byKey = new Map<string, number[]>();
  for (const s of starts) if (s.key !== undefined) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s.seq]);
  assert.is(byKey.size, KEYS);
  for (const [key, seqs] of byKey) assert.equal(seqs, Array.from({ length: PER_KEY }, (_, i) => i + 1), `key ${key} handled in arrival order`);
  assert.ok(maxActive > 8, `different keys ran side by side (at most ${maxActive} at once)`);
  assert.ok(maxUnkeyedActive > 1, `unkeyed messages still ran side by side (at most ${maxUnkeyedActive} at once)`);
});

test.run();

// @serial: sets RabbitMQ resource alarms, which block every publisher on the node.
/**
 * RabbitMQ resource alarms while a backlog drains. During a memory or disk alarm the broker blocks
 * publishing connections: it stops reading them and confirms nothing, while the connection stays up. A relay
 * must not pile frames up behind it (memory), must not resend every row once per receipt timeout (copies),
 * and must go on by itself when the alarm clears. Alarms last minutes in production: a 60 s alarm with
 * broker.receiptTimeout 3 stands for a 10-minute one with the default 30 s (twenty timeouts either way).
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, rabbitmqctl, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countByStatus, insertBacklog, testConfig } from './rows.js';
import { countIds, readQueue, spawnCli, writeConfigFile, type RelayProcess } from './support.js';

let t: TestDatabase;
const started: RelayProcess[] = [];
const queues: string[] = [];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const q of queues) deleteQueue(q);
  await t.drop();
});

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sentSoFar = async () => (await countByStatus(t.sql)).sent ?? 0;

async function alarmWhileDraining(name: string, raise: () => void, clear: () => void, alarmSeconds: number): Promise<void> {
  await t.sql`truncate outbox_published`;
  const queue = uniqueName(`relay-alarm-${name}`);
  queues.push(queue);
  // Enough that a quiet machine's relay (~15k msg/s) is still draining when the alarm comes.
  const total = 60_000;
  await insertBacklog(t.sql, `/queue/${queue}`, total);
  const file = writeConfigFile({ database: { url: t.url }, broker: { receiptTimeout: 3 }, relay: { progressInterval: 0 } });
  const relay = spawnCli(['relay', '--config', file.path]);
  started.push(relay);
  const pid = relay.child.pid!;
  let raised = false;
  try {
    await waitFor(async () => (await sentSoFar()) >= 2_000, 60_000, 20);
    // The baseline is the relay draining at full speed (its heap at work), not the relay just started.
    let before = 0;
    for (const until = Date.now() + 1_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) before = Math.max(before, rssMb(pid));
    raise();
    raised = true;
    let peak = before;
    const until = Date.now() + alarmSeconds * 1000;
    while (Date.now() < until) {
      peak = Math.max(peak, rssMb(pid));
      await new Promise((r) => setTimeout(r, 250));
    }
    const stalled = await sentSoFar();
    clear();
    raised = false;
    assert.ok(stalled < total, 'the alarm held the drain back (else the test proves nothing)');
    await waitFor(async () => (await sentSoFar()) === total, 120_000, 100);
    assert.ok(relay.child.exitCode === null, 'the relay is still running');
    assert.ok(peak - before < 50, `RSS rose by ${(peak - before).toFixed(1)} MB during the alarm (bound 50 MB)`);

    const counts = countIds(await readQueue(testConfig(t.url), queue, total, { timeoutMs: 60_000, settleMs: 1000 }));
    assert.is(counts.size, total, 'every row was delivered');
    const most = Math.max(...counts.values());
    const twice = [...counts.values()].filter((n) => n > 1).length;
    assert.ok(most <= 2, `a row arrived ${most} times (bound: twice)`);
    console.log(`${name} alarm ${alarmSeconds} s: RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MB; ${twice} rows twice, none more`);
    relay.child.kill('SIGTERM');
    assert.is(await relay.exited, 0, relay.output());
  } finally {
    if (raised) clear();
    file.remove();
  }
}

test('a 60 s memory alarm mid-drain: memory stays flat, no row more than twice, the relay goes on by itself', async () => {
  await alarmWhileDraining(
    'memory',
    () => rabbitmqctl('set_vm_memory_high_watermark', '0.0000001'),
    () => rabbitmqctl('set_vm_memory_high_watermark', '0.4'),
    60,
  );
});

test('a disk alarm mid-drain: the same', async () => {
  await alarmWhileDraining(
    'disk',
    () => rabbitmqctl('set_disk_free_limit', '100000GB'),
    () => rabbitmqctl('set_disk_free_limit', '50MB'),
    10,
  );
});

test.run();

/**
 * The commands an operator runs: `outbox relay` stops gracefully on SIGTERM (exit 0, no row left leased),
 * exits at once on a second signal, and `outbox status` / `outbox retry` show and mend the outbox.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertBacklog, insertRows } from './rows.js';
import { runCli, spawnCli, writeConfigFile, type RelayProcess } from './support.js';

let t: TestDatabase;
const queue = uniqueName('relay-cli');
const started: RelayProcess[] = [];
const files: Array<{ remove(): void }> = [];
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const f of files) f.remove();
  deleteQueue(queue);
  await t.drop();
});

const leasedRows = async () =>
  (await t.sql`select count(*)::int as n from outbox_published where status = 'pending' and next_attempt_at > now()`)[0]!.n as number;

/** A "broker" that says CONNECTED and then never confirms anything: sends stay in flight for ever. */
function silentBroker(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let greeted = false;
    socket.on('data', (chunk) => {
      if (!greeted && /^(CONNECT|STOMP)\n/.test(chunk.toString('latin1'))) {
        greeted = true;
        socket.write('CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0');
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      }),
    ),
  );
}

test('SIGTERM during a batch: exit 0, every claimed row marked, none left leased', async () => {
  await insertBacklog(t.sql, `/queue/${queue}`, 20_000);
  const file = writeConfigFile({ database: { url: t.url }, relay: { progressInterval: 0 } });
  files.push(file);
  const relay = spawnCli(['relay', '--config', file.path]);
  started.push(relay);
  await waitFor(async () => {
    const [s] = await t.sql`select count(*) filter (where status = 'sent')::int as sent,
      count(*) filter (where status = 'pending' and attempts > 0)::int as leased from outbox_published`;
    return s!.sent >= 2000 && s!.leased > 0;
  }, 30_000, 5);
  relay.child.kill('SIGTERM');
  assert.is(await relay.exited, 0, relay.output());
  assert.match(relay.output(), /SIGTERM: finishing in-flight sends/);
  assert.match(relay.output(), /stopped \(/);
  assert.is(await leasedRows(), 0, 'no row left under a lease');
  const [r] = await t.sql`select count(*)::int as n from outbox_published where status = 'pending' and attempts > 0`;
  assert.is(r!.n, 0, 'every claimed row was confirmed and marked before exiting');
  await t.sql`delete from outbox_published`;
});

test('receipts that never come: the drain gives up after shutdownTimeout, releases the rows, exits 0', async () => {
  const broker = await silentBroker();
  try {
    const rows = await insertRows(t.db, `/queue/${queue}`, 50);
    const file = writeConfigFile({
      database: { url: t.url },
      broker: { hosts: [{ host: '127.0.0.1', port: broker.port }], heartbeat: [0, 0] },
      relay: { progressInterval: 0, shutdownTimeout: 1, leaseTimeout: 300 },
    });
    files.push(file);
    const relay = spawnCli(['relay', '--config', file.path]);
    started.push(relay);
    await waitFor(async () => (await leasedRows()) === rows.length, 20_000);
    relay.child.kill('SIGTERM');
    assert.is(await relay.exited, 0, relay.output());
    assert.is(await leasedRows(), 0, 'released, not left leased for the 300 s lease');

    // A second signal while draining exits at once.
    const again = spawnCli(['relay', '--config', file.path]);
    started.push(again);
    await waitFor(async () => (await leasedRows()) === rows.length, 20_000);
    again.child.kill('SIGTERM');
    await again.waitForOutput(/SIGTERM: finishing/);
    again.child.kill('SIGTERM');
    assert.is(await again.exited, 130);
  } finally {
    await broker.close();
    await t.sql`delete from outbox_published`;
  }
});

test('outbox status (text and --json) and outbox retry', async () => {
  const file = writeConfigFile({ database: { url: t.url } });
  files.push(file);
  const sent = await insertRows(t.db, '/topic/orders', 3);
  const failed = await insertRows(t.db, '/queue/billing', 2);
  await insertRows(t.db, '/topic/orders', 1);
  await t.sql`update outbox_published set status = 'sent', sent_at = now(), attempts = 1 where id = any(${sent.map((r) => r.id)}::uuid[])`;
  await t.sql`update outbox_published set status = 'failed', attempts = 50, last_error = 'E_BROKER_ERROR: PRECONDITION_FAILED - inequivalent arg'
    where id = any(${failed.map((r) => r.id)}::uuid[])`;

  const json = await runCli(['status', '--json', '--config', file.path]);
  assert.is(json.code, 0, json.output);
  const status = JSON.parse(json.output);
  assert.equal(status.totals, { pending: 1, scheduled: 0, sent: 3, failed: 2 });
  const billing = status.destinations.find((d: { destination: string }) => d.destination === '/queue/billing');
  assert.is(billing.failed, 2);
  assert.match(billing.lastError, /PRECONDITION_FAILED/);
  assert.ok(status.oldestPendingAge >= 0);
  assert.equal(status.retention.map((r: { table: string }) => r.table), ['outbox_published', 'outbox_received']);

  const text = await runCli(['status', '--config', file.path]);
  assert.is(text.code, 0, text.output);
  assert.match(text.output, /pending 1, oldest .* · failed 2 · sent 3/);
  assert.match(text.output, /\/queue\/billing\s+0\s+0\s+2/);
  assert.match(text.output, /last error for \/queue\/billing: E_BROKER_ERROR/);
  assert.match(text.output, /outbox retry/);

  const none = await runCli(['retry', '--destination', '/topic/orders', '--config', file.path]);
  assert.match(none.output, /no failed rows to \/topic\/orders/);
  const retried = await runCli(['retry', '--config', file.path]);
  assert.is(retried.code, 0, retried.output);
  assert.match(retried.output, /re-queued 2 failed row\(s\)/);
  const [r] = await t.sql`select count(*)::int as n from outbox_published where status = 'pending' and attempts = 0 and next_attempt_at <= now()`;
  assert.is(r!.n, 3, 'the failed rows are due again with a fresh attempt count');
});

test.run();

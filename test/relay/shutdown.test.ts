// @offline: no database, no broker
/**
 * Shutdown and the failure sink: a failure that happened before the shutdown began is judged as it came
 * (a poison row must not dodge its attempt by failing just before a restart), and giving up on writes
 * (the database is down, the drain's time is up) ends the flush at once instead of after its retries.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { createFailureSink } from '../../src/relay/failures.js';
import type { ClaimedRow, RelayStatements } from '../../src/relay/sql.js';

const policy = { maxAttempts: 5, base: 1, max: 1 };
const row = (n: number): ClaimedRow => ({ id: `id-${n}`, seq: n, destination: '/queue/x', body: {}, headers: {}, attempts: 1 });

function fakeStatements(behaviour: 'ok' | 'down') {
  const calls: Array<{ verb: string; ids: string[] }> = [];
  const verb = (name: string) => async (rows: Array<{ id: string }>) => {
    calls.push({ verb: name, ids: rows.map((r) => r.id) });
    if (behaviour === 'down') throw new Error('connection refused');
  };
  return { calls, statements: { fail: verb('fail'), release: verb('release') } as unknown as RelayStatements };
}

test('a failure added just before shuttingDown() is still blamed, one added after is released', async () => {
  const { calls, statements } = fakeStatements('ok');
  const sink = createFailureSink({ statements, policy, logger: silentLogger });
  sink.add(row(1), new OutboxError('E_RECEIPT_TIMEOUT', 'no receipt'));
  sink.shuttingDown();
  sink.add(row(2), new OutboxError('E_ABORTED', 'relay stopped before the receipt'));
  await sink.flush();
  assert.equal(calls.find((c) => c.verb === 'fail')?.ids, ['id-1'], 'the earlier failure keeps its attempt and backoff');
  assert.equal(calls.find((c) => c.verb === 'release')?.ids, ['id-2'], 'the shutdown one is released');
});

test('abandon() ends a flush whose writes keep failing without waiting out the retries', async () => {
  const { calls, statements } = fakeStatements('down');
  const sink = createFailureSink({ statements, policy, logger: silentLogger });
  sink.add(row(1), new OutboxError('E_RECEIPT_TIMEOUT', 'no receipt'));
  const flushed = sink.flush();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
  sink.abandon();
  await flushed;
  // Five tries with 0.5 + 1 + 2 + 4 s between them would have taken 7.5 s; abandoned, one more try at most.
  assert.ok(calls.length <= 2, `${calls.length} write attempts`);
});

test.run();

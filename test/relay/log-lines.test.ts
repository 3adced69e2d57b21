/**
 * What an operator reads while a destination is refused: one line per refusal, in the broker's own words,
 * and nothing else repeated. Before, each refusal printed the ERROR frame, the lost connection, the hold and
 * the failed sends — four lines quoting the same text behind our prefixes — and a reconnection line.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLogger } from '../../src/log/logger.js';
import { createRelay } from '../../src/relay/relay.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertRows, testConfig } from './rows.js';
import { captureLogger } from './support.js';

let t: TestDatabase;
const bad = uniqueName('log-refused');
const good = uniqueName('log-healthy');
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  deleteQueue(bad);
  deleteQueue(good);
  await t.drop();
});

test('a refused destination among healthy rows: one line per refusal with the broker\'s words, no generic ERROR, no blank line', async () => {
  const config = testConfig(t.url, { relay: { maxAttempts: 3, retryBackoff: { base: 0.2, max: 0.4 }, progressInterval: 0 } });
  // /queue/<bad> exists with x-max-length: the relay's plain SEND re-declares it without → PRECONDITION_FAILED.
  const s = await connect({ broker: config.broker, logger: silentLogger });
  s.subscribe(`/queue/${bad}`, { 'x-max-length': '10', durable: 'true', 'auto-delete': 'false' }, () => {});
  await s.disconnect();
  const refused = await insertRows(t.db, `/queue/${bad}`, 2);
  await insertRows(t.db, `/queue/${good}`, 500);
  // Counted from the frames, independently of the log: every ERROR the broker sent about the queue.
  let refusals = 0;
  config.broker.onFrame = (direction, command, headers) => {
    if (direction === 'in' && command === 'ERROR' && /precondition_failed/i.test(headers.message ?? '')) refusals++;
  };
  const logger = captureLogger();
  const relay = createRelay({ db: t.db, config, logger });
  const running = relay.run();
  try {
    await waitFor(async () => {
      const [r] = await t.sql`select count(*) filter (where status = 'failed')::int as failed, count(*) filter (where status = 'sent')::int as sent
        from outbox_published`;
      return r!.failed === refused.length && r!.sent === 500;
    }, 60_000, 50);
  } finally {
    await relay.stop();
    await running;
  }
  const shown = logger.lines.filter((l) => l.level !== 'debug');
  for (const l of shown) assert.ok(l.text.trim() !== '' && !l.text.includes('\n'), `one line each: ${JSON.stringify(l.text)}`);
  assert.not.ok(shown.some((l) => /Processing error/i.test(l.text)), 'no generic ERROR repeated');
  const aboutIt = shown.filter((l) => l.text.includes(`'${bad}'`));
  assert.ok(refusals >= 2, `the broker refused it at least twice (${refusals})`);
  assert.is(aboutIt.length, refusals, `one line per refusal:\n${aboutIt.map((l) => l.text).join('\n')}`);
  for (const l of aboutIt) {
    assert.match(l.text, new RegExp(`^the broker refused /queue/${bad}( again)?: PRECONDITION_FAILED - inequivalent arg 'x-max-length'`), 'the broker\'s words, straight after the destination');
  }
  assert.is(shown.filter((l) => /^connected to the broker/.test(l.text)).length, 1, 'reconnecting after a refusal is no news');
});

test.run();

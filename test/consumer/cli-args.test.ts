/**
 * A destination or a queue name the broker would refuse is refused before anything connects: `outbox
 * consume` exits 2 with one line, and createConsumer throws E_CONFIG. (`topic/orders`, without its leading
 * slash, used to subscribe, be refused by RabbitMQ, and reconnect forever.)
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConsumer } from '../../src/consumer/consumer.js';
import type { OutboxDb } from '../../src/db/types.js';
import { isOutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { HANDLER, runCli, type Child } from './helpers/cli.js';
import { testConfig } from './helpers/env.js';

const children: Child[] = [];
test.after(() => {
  for (const c of children) c.process.kill('SIGKILL');
});

const cases: Array<[string, string[], RegExp]> = [
  ['no leading slash', ['topic/orders'], /^outbox: consume: destination "topic\/orders" must start with one of \/topic\/ \/queue\//],
  ['no name after the prefix', ['/topic/'], /^outbox: consume: destination "\/topic\/" has no name after \/topic\//],
  ['whitespace', ['/topic/or ders'], /contains whitespace or a control character/],
  ['a default queue name RabbitMQ reserves', ['/topic/amq.orders'], /queue \(the destination's last segment, by default\) "amq\.orders" starts with "amq\."/],
  ['a queue name with a slash', ['/topic/orders', 'a/b'], /^outbox: consume: queue "a\/b" contains "\/"/],
  ['a queue name too long for DLQ.<queue>', ['/topic/orders', 'q'.repeat(252)], /is 252 bytes long: at most 251/],
  ['a control character in the queue name', ['/topic/orders', 'a\u007fb'], /contains a control character/],
];

for (const [name, args, message] of cases) {
  test(`${name}: exit 2, one line`, async () => {
    const child = runCli(['consume', HANDLER, ...args, '--config', 'test/consumer/fixtures/outbox.config.ts'], { DATABASE_URL: 'postgres://unused@127.0.0.1:1/none' });
    children.push(child);
    const code = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15_000).unref())]);
    assert.is(code, 2, child.output());
    const lines = child.output().trim().split('\n');
    assert.is(lines.length, 1, child.output());
    assert.match(lines[0]!, message);
  });
}

test('createConsumer throws E_CONFIG for the same mistakes', () => {
  const config = testConfig('postgres://unused@127.0.0.1:1/none');
  // A pool connects on its first query: there is none here.
  const db = drizzle({ client: new pg.Pool({ connectionString: 'postgres://unused@127.0.0.1:1/none' }) }) as unknown as OutboxDb;
  const create = (destination: string, queue?: string) => () =>
    createConsumer({ db, config, handler: () => {}, destination, queue, logger: silentLogger });
  for (const [destination, queue] of [['topic/orders'], ['/topic/amq.x'], ['/topic/orders', 'a/b']] as Array<[string, string?]>) {
    try {
      create(destination, queue)();
      assert.unreachable(`${destination} ${queue ?? ''} was accepted`);
    } catch (error) {
      assert.ok(isOutboxError(error, 'E_CONFIG'), String(error));
    }
  }
  // A valid one still builds (nothing connects before run()).
  assert.type(create('/topic/orders', 'orders-email')().run, 'function');
});

test.run();

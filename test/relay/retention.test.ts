/** Retention deletes only old sent outbox rows and old inbox rows, in batches, at most once per interval. */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRetention } from '../../src/retention/retention.js';
import { defaults } from '../../src/config/defaults.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { insertBacklog } from './rows.js';

let t: TestDatabase;
test.before(async () => {
  t = await createTestDatabase();
});
test.after(async () => {
  await t.drop();
});

const retention = { days: 30, interval: 3600, batchSize: 1000 };

test('deletes old sent rows and old inbox rows; never pending, failed or recent ones; once per interval', async () => {
  await insertBacklog(t.sql, '/topic/a', 2_520);
  // 2,500 old sent, 10 recently sent, 5 old pending, 5 old failed (with an old sent_at, to be sure status decides).
  await t.sql`update outbox_published set status = 'sent', sent_at = now() - interval '40 days' where seq <= 2500`;
  await t.sql`update outbox_published set status = 'sent', sent_at = now() - interval '1 day' where seq between 2501 and 2510`;
  await t.sql`update outbox_published set created_at = now() - interval '90 days' where seq between 2511 and 2515`;
  await t.sql`update outbox_published set status = 'failed', sent_at = now() - interval '90 days', created_at = now() - interval '90 days' where seq > 2515`;
  await t.sql`insert into outbox_received (message_id, destination, body, headers, received_at)
    select gen_random_uuid()::text, '/topic/a', '{}', '{}', now() - interval '31 days' from generate_series(1, 1200)`;
  await t.sql`insert into outbox_received (message_id, destination, body, headers) values (${randomUUID()}, '/topic/a', '{}', '{}')`;

  const a = createRetention({ db: t.db, tables: defaults.tables, retention });
  const b = createRetention({ db: t.db, tables: defaults.tables, retention });
  const [first, second] = await Promise.all([a.maybeRun(), b.maybeRun()]);
  const reports = [first, second];
  assert.equal(reports.filter((r) => r.published !== undefined).map((r) => r.published), [2500], 'one of two concurrent runners deleted the old sent rows');
  assert.equal(reports.filter((r) => r.received !== undefined).map((r) => r.received), [1200], 'and the old inbox rows, once');

  const left = await t.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from outbox_published group by status order by status`;
  assert.equal(left.map((r) => [r.status, r.n]), [['failed', 5], ['pending', 5], ['sent', 10]]);
  const [received] = await t.sql`select count(*)::int as n from outbox_received`;
  assert.is(received!.n, 1);

  assert.equal(await a.maybeRun(), {}, 'not due again within the interval');
  const runs = await t.sql`select task from outbox_maintenance order by task`;
  assert.equal(runs.map((r) => r.task), ['retention:outbox_published', 'retention:outbox_received']);

  await t.sql`update outbox_maintenance set last_run_at = now() - interval '2 hours'`;
  assert.equal(await b.maybeRun(), { published: 0, received: 0 }, 'due again once the interval has passed');
  await Promise.all([a.stop(), b.stop()]);
});

test('targets: a consumer tidies only the inbox', async () => {
  await t.sql`update outbox_maintenance set last_run_at = now() - interval '2 hours'`;
  const consumerSide = createRetention({ db: t.db, tables: defaults.tables, retention, targets: ['received'] });
  assert.equal(await consumerSide.maybeRun(), { received: 0 });
  const [p] = await t.sql`select last_run_at < now() - interval '1 hour' as stale from outbox_maintenance where task = 'retention:outbox_published'`;
  assert.ok(p!.stale, "the outbox's schedule was left alone");
  await consumerSide.stop();
});

test('a run that fails is not recorded: the next check runs it again', async () => {
  await t.sql`delete from outbox_published`;
  await t.sql`delete from outbox_maintenance`;
  await insertBacklog(t.sql, '/topic/a', 10);
  await t.sql`update outbox_published set status = 'sent', sent_at = now() - interval '40 days'`;
  // The deletes fail (a trigger refuses them): the run's mark must not stay behind.
  await t.sql`create function refuse_delete() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$`;
  await t.sql`create trigger refuse_delete before delete on outbox_published for each row execute function refuse_delete()`;
  const r = createRetention({ db: t.db, tables: defaults.tables, retention, targets: ['published'] });
  assert.equal(await r.maybeRun(), {}, 'the failed run deleted nothing');
  assert.is((await t.sql`select 1 from outbox_maintenance`).length, 0, 'no last run recorded');
  await t.sql`drop trigger refuse_delete on outbox_published`;
  assert.equal(await r.maybeRun(), { published: 10 }, 'retried at the next check, not after the interval');
  await r.stop();
});

test.run();

/**
 * `npm run demo`: the whole loop on the embedded database (PGlite, in a temporary directory) and the local
 * RabbitMQ, narrated for someone who has never seen the library:
 *
 *   outbox generate → migrate → orders + their events in transactions → relay → read back from RabbitMQ
 *
 * Uses the files a user would have: examples/demo/{schema.ts,outbox.config.ts} and what `outbox generate`
 * writes from them into examples/demo/outbox/.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { generate } from '../codegen/generate.js';
import { writeGenerated } from '../codegen/write.js';
import { resolveConfig } from '../src/config/resolve.js';
import { migrate } from '../src/db/migrate.js';
import type { OutboxDb } from '../src/db/types.js';
import { silentLogger, type Logger } from '../src/log/logger.js';
import { withCorrelationId } from '../src/publish/correlation.js';
import { outboxStatus } from '../src/relay/admin.js';
import { createRelay } from '../src/relay/relay.js';
import { connect } from '../src/stomp/connect.js';
import type { StompMessage } from '../src/stomp/types.js';
import demoConfig from '../examples/demo/outbox.config.js';
import { orders, ordersSql } from '../examples/demo/schema.js';

type Generated = typeof import('../examples/demo/outbox/index.js');

const CONFIG_PATH = 'examples/demo/outbox.config.ts';
const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (n: number, title: string) => say(`\n${n}. ${title}`);
const short = (id = '') => `${id.slice(0, 8)}…`;

async function main(): Promise<void> {
  say('drizzle-outbox demo — business rows and their events commit together; a relay moves the events to RabbitMQ.');

  step(1, 'outbox generate: typed helpers from examples/demo/outbox.config.ts');
  const { files } = generate({ configPath: CONFIG_PATH, config: demoConfig, runtimeImport: '../../../src/index.js' });
  const written = await writeGenerated(files);
  for (const p of [...written.written, ...written.unchanged]) say(`   ${relative(process.cwd(), p)}`);
  const { insertOrderWithOutbox, updateOrderWithOutbox }: Generated = await import('../examples/demo/outbox/index.js');

  const dir = mkdtempSync(join(tmpdir(), 'outbox-demo-'));
  // The demo's own database; the broker from the config or OUTBOX_BROKER_URL.
  const config = resolveConfig({ ...demoConfig, database: { pglite: dir } }, { OUTBOX_BROKER_URL: process.env.OUTBOX_BROKER_URL });
  const client = new PGlite(dir);
  const db = drizzle({ client }) as unknown as OutboxDb;
  const broker = await connect({ broker: config.broker, logger: silentLogger }).catch((error: Error) => {
    throw new Error(`cannot reach RabbitMQ STOMP at ${config.broker.hosts.map((h) => `${h.host}:${h.port}`).join(', ')} (${error.message}); run bash scripts/services.sh`);
  });
  try {
    step(2, `database: PGlite (Postgres compiled to WebAssembly) in ${dir}`);
    await migrate(db);
    await db.execute(sql.raw(ordersSql));
    say('   outbox migrate: tables outbox_published, outbox_received, outbox_maintenance + the NOTIFY trigger');
    say('   your table: orders');

    step(3, 'consumer queues first: RabbitMQ confirms, then DROPS, a /topic/ message no queue is bound to');
    const received: StompMessage[] = [];
    const suffix = randomBytes(3).toString('hex');
    for (const destination of ['/topic/demo-orders', '/topic/demo-billing.v1']) {
      const queue = `${destination.split('/').pop()}-${suffix}`;
      // Temporary queues (auto-delete): they vanish when the demo disconnects.
      broker.subscribe(destination, { 'x-queue-name': queue, durable: 'false', 'auto-delete': 'true', ack: 'auto' }, (m) => received.push(m));
      say(`   queue ${queue} ← ${destination}`);
    }

    step(4, 'business code: orders and their events in the same transactions');
    const first = await withCorrelationId('req-checkout-1', () =>
      db.transaction((tx) =>
        insertOrderWithOutbox(tx, [
          { customer: 'ada', total: '42.50' },
          { customer: 'grace', total: '7.99' },
        ]),
      ),
    );
    say(`   tx 1 (correlation req-checkout-1): insertOrderWithOutbox → orders ${first.map((o) => o.id).join(', ')}, 4 events, one commit`);
    await withCorrelationId('req-payment-7', () =>
      db.transaction((tx) => updateOrderWithOutbox(tx, eq(orders.id, first[0]!.id), { status: 'paid' })),
    );
    say(`   tx 2 (correlation req-payment-7):  updateOrderWithOutbox → order ${first[0]!.id} paid, 2 events`);
    await db
      .transaction(async (tx) => {
        await insertOrderWithOutbox(tx, { customer: 'mallory', total: '999.00' });
        throw new Error('card declined');
      })
      .catch(() => undefined);
    say('   tx 3: insertOrderWithOutbox, then an error → rolled back: no order, and no event either');
    const before = await outboxStatus(db, config.tables);
    say(`   outbox now: ${before.totals.pending} pending, ${before.totals.sent} sent — nothing has left the database yet`);

    step(5, 'outbox relay: claims a batch, sends each event with a receipt, marks it sent once RabbitMQ confirms');
    const relay = createRelay({ db, config, logger: narrated('relay') });
    const running = relay.run();
    const expected = before.totals.pending;
    const until = Date.now() + 15_000;
    while (received.length < expected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await relay.stop();
    await running;

    step(6, `read back from RabbitMQ: ${received.length} message(s), per queue in arrival order`);
    const byDestination = [...received].sort((a, b) => (a.headers.destination ?? '').localeCompare(b.headers.destination ?? ''));
    for (const m of byDestination) {
      const h = m.headers;
      say(`   ${h.destination}  dop-msg-id ${short(h['dop-msg-id'])}  correlation ${h['dop-correlation-id']}`);
      say(`      ${m.body.toString('utf8')}`);
    }

    const after = await outboxStatus(db, config.tables);
    step(7, `outbox now: ${after.totals.sent} sent, ${after.totals.pending} pending, ${after.totals.failed} failed`);
    const ids = new Set(received.map((m) => m.headers['dop-msg-id']));
    const ok = received.length === expected && ids.size === expected && after.totals.sent === expected;
    say(
      ok
        ? `\nEvery committed event reached RabbitMQ once (${expected}), the rolled-back order never existed anywhere.\n` +
            'Next: outbox relay / outbox consume / outbox status in your own project — see README.md.'
        : `\nSomething is off: expected ${expected} messages, got ${received.length} (${ids.size} distinct).`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await broker.disconnect().catch(() => {});
    await client.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A component's log lines, indented under the current step. */
function narrated(tag: string): Logger {
  const line = (level: string) => (...args: unknown[]) => say(`   ${tag}${level}: ${args.map(String).join(' ')}`);
  return { debug: () => {}, info: line(''), warn: line(' (warning)'), error: line(' (error)') };
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.message}\n`);
    process.exit(1);
  },
);

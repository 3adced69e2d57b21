/**
 * `npm run demo`: the whole loop on the embedded database (PGlite, in a temporary directory) and the local
 * RabbitMQ, narrated for someone who has never seen the library:
 *
 *   outbox generate → migrate → a consumer subscribes → orders + their events in transactions → relay →
 *   the consumer records a shipment and its inbox row in one transaction → a redelivery is absorbed
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
import { createConsumer } from '../src/consumer/consumer.js';
import type { Consumer, HandlerContext, Payload } from '../src/consumer/types.js';
import { migrate } from '../src/db/migrate.js';
import { outboxPublished } from '../src/db/tables.js';
import type { OutboxDb } from '../src/db/types.js';
import { silentLogger, type Logger } from '../src/log/logger.js';
import { withCorrelationId } from '../src/publish/correlation.js';
import { outboxStatus } from '../src/admin/status.js';
import { createRelay } from '../src/relay/relay.js';
import { connect } from '../src/stomp/connect.js';
import type { StompMessage, StompSession } from '../src/stomp/types.js';
import demoConfig from '../examples/demo/outbox.config.js';
import { orders, ordersSql, shipments, shipmentsSql } from '../examples/demo/schema.js';

type Generated = typeof import('../examples/demo/outbox/index.js');
type OrderBody = import('../examples/demo/outbox/index.js').DemoOrdersBody;

const CONFIG_PATH = 'examples/demo/outbox.config.ts';
const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (n: number, title: string) => say(`\n${n}. ${title}`);
const short = (id = '') => `${id.slice(0, 8)}…`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `done()` (checked every 20 ms), at most `ms`. */
async function until(done: () => boolean, ms = 15_000): Promise<boolean> {
  for (const end = Date.now() + ms; !done(); await sleep(20)) if (Date.now() > end) return false;
  return true;
}

async function main(): Promise<void> {
  say('drizzle-outbox demo — business rows and their events commit together; a relay moves the events to RabbitMQ;');
  say('a consumer applies each event once, however often it arrives.');

  // The embedded database starts (WebAssembly, a second or two) while the generator runs.
  const dir = mkdtempSync(join(tmpdir(), 'outbox-demo-'));
  const client = new PGlite(dir);

  let broker: StompSession | undefined;
  let consumer: Consumer | undefined;
  let consuming: Promise<void> | undefined;
  try {
    step(1, 'outbox generate: typed helpers from examples/demo/outbox.config.ts');
    const { files } = generate({ configPath: CONFIG_PATH, config: demoConfig, runtimeImport: '../../../src/index.js' });
    const written = await writeGenerated(files);
    for (const p of [...written.written, ...written.unchanged]) say(`   ${relative(process.cwd(), p)}`);
    const { insertOrderWithOutbox, updateOrderWithOutbox }: Generated = await import('../examples/demo/outbox/index.js');

    const suffix = randomBytes(3).toString('hex');
    // The demo's own database; the broker from the config or OUTBOX_BROKER_URL. Its queues are auto-delete, so
    // they vanish when it ends (a real consumer's queue is durable and outlives it).
    const config = resolveConfig(
      { ...demoConfig, database: { pglite: dir }, consumer: { ...demoConfig.consumer, queueHeaders: { 'auto-delete': 'true' } } },
      { OUTBOX_BROKER_URL: process.env.OUTBOX_BROKER_URL },
    );
    const db = drizzle({ client }) as unknown as OutboxDb;
    broker = await connect({ broker: config.broker, logger: silentLogger }).catch((error: Error) => {
      throw new Error(`cannot reach RabbitMQ STOMP at ${config.broker.hosts.map((h) => `${h.host}:${h.port}`).join(', ')} (${error.message}); run bash scripts/services.sh`);
    });

    step(2, `database: PGlite (Postgres compiled to WebAssembly) in ${dir}`);
    await migrate(db);
    await db.execute(sql.raw(ordersSql));
    await db.execute(sql.raw(shipmentsSql));
    const outboxTables = await tableNames(db, 'outbox\\_%');
    say(`   outbox migrate: tables ${outboxTables.join(', ')} + the NOTIFY trigger`);
    say('   your tables: orders, shipments');

    step(3, 'consumers first: RabbitMQ confirms, then DROPS, a /topic/ message no queue is bound to');
    // The shipping service: ships paid orders. The consumer opens the transaction, and records the message id
    // in the inbox in it before committing: effect and inbox row commit together.
    const handled: string[] = [];
    const ship = async (payload: Payload<OrderBody>, { tx }: HandlerContext) => {
      const order = payload.body;
      let effect = 'nothing to ship yet';
      if (order.status === 'paid') {
        const [shipment] = await tx.insert(shipments).values({ orderId: order.id }).returning();
        effect = `shipment #${shipment!.id} written`;
      }
      handled.push(`   order ${order.id} ${order.status.padEnd(4)} → ${effect.padEnd(20)} dop-msg-id ${short(payload.messageId)}  correlation ${payload.correlationId}`);
    };
    say('   shipping: createConsumer, whose handler (payload, { tx }) writes a shipment for a paid order in the transaction the consumer opens and commits with the inbox row');
    let subscribed = false;
    const consumerLog = narrated('consumer', ['info', 'warn', 'error'], (text) => (subscribed ||= text.startsWith('consuming ')));
    consumer = createConsumer({ db, config, handler: ship, destination: '/topic/demo-orders', queue: `demo-orders-${suffix}`, logger: consumerLog });
    consuming = consumer.run();
    if (!(await until(() => subscribed, 10_000))) throw new Error('the consumer did not subscribe within 10 s');
    // The billing events, read by a plain STOMP subscription: any STOMP client can consume them.
    const billing: StompMessage[] = [];
    const billingQueue = `demo-billing.v1-${suffix}`;
    broker.subscribe('/topic/demo-billing.v1', { 'x-queue-name': billingQueue, durable: 'false', 'auto-delete': 'true', ack: 'auto' }, (m) => billing.push(m));
    say(`   billing: a plain STOMP subscription, queue ${billingQueue} ← /topic/demo-billing.v1`);
    // A receipt on this connection: the broker has processed the SUBSCRIBEs before anything is relayed.
    // (Sent to a routing key no queue is bound to: confirmed and dropped, it leaves nothing behind.)
    await broker.send(`/topic/demo-nowhere-${suffix}`, '');

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
    const expected = before.totals.pending;
    say(`   outbox now: ${expected} pending, ${before.totals.sent} sent — nothing has left the database yet`);

    step(5, 'outbox relay: claims a batch, sends each event with a receipt, marks it sent once RabbitMQ confirms');
    const relay = createRelay({ db, config, logger: narrated('relay', ['info', 'warn', 'error']) });
    const relaying = relay.run();
    await until(() => handled.length + billing.length >= expected && consumer!.stats().acked >= handled.length);
    await relay.stop();
    await relaying;

    step(6, `the shipping consumer: ${handled.length} order event(s), each handled in one transaction with its inbox row`);
    for (const line of handled) say(line);
    say(`   billing's plain subscription: ${billing.length} message(s)`);
    for (const m of billing) say(`   ${m.body.toString('utf8').padEnd(28)} dop-msg-id ${short(m.headers['dop-msg-id'])}  correlation ${m.headers['dop-correlation-id']}`);

    step(7, 'a redelivery: the same event arrives again — the inbox absorbs it');
    // A relay that crashes after RabbitMQ's receipt but before marking the row sent sends it again when it
    // restarts (at-least-once). Simulated: the "order paid" row goes back to pending, and a relay runs again.
    const [paid] = await db
      .select({ id: outboxPublished.id })
      .from(outboxPublished)
      .where(sql`${outboxPublished.destination} = '/topic/demo-orders' and ${outboxPublished.body}->>'status' = 'paid'`);
    say(`   as if the relay had crashed before marking it sent: the "order ${first[0]!.id} paid" event (dop-msg-id ${short(paid!.id)}) is pending again`);
    await db.update(outboxPublished).set({ status: 'pending', sentAt: null, nextAttemptAt: sql`now()` }).where(eq(outboxPublished.id, paid!.id));
    const absorbed = () => consumer!.stats().recorded + consumer!.stats().duplicate;
    const again = createRelay({ db, config, logger: narrated('relay', ['warn', 'error']) });
    const relayingAgain = again.run();
    await until(() => absorbed() >= 1);
    await again.stop();
    await relayingAgain;
    const [shipped] = await db.select({ n: sql<number>`count(*)::int` }).from(shipments);
    say(`   the relay sent it again; shipments: ${shipped!.n} — the handler's effect happened once, the duplicate was acked`);
    await consumer.stop();
    await consuming;
    const stats = consumer.stats();
    const after = await outboxStatus(db, config.tables);
    const inbox = await client.query<{ n: number }>(`select count(*)::int as n from ${config.tables.received}`);
    step(8, `outbox now: ${after.totals.sent} sent, ${after.totals.pending} pending, ${after.totals.failed} failed · inbox: ${inbox.rows[0]!.n} message ids`);
    const ids = new Set(billing.map((m) => m.headers['dop-msg-id']));
    const ok =
      handled.length + billing.length === expected && ids.size === billing.length && after.totals.sent === expected &&
      shipped!.n === 1 && stats.acked === handled.length && absorbed() === 1 && inbox.rows[0]!.n === handled.length;
    say(
      ok
        ? `\nEvery committed event reached RabbitMQ (${expected}), the shipment was written once although its event came twice,\n` +
            'and the rolled-back order never existed anywhere.\n' +
            'Next: outbox relay / outbox consume / outbox status in your own project — see README.md.'
        : `\nSomething is off: expected ${expected} events, the consumer handled ${handled.length}, billing got ${billing.length}; ` +
            `shipments ${shipped!.n}, duplicates absorbed ${absorbed()}.`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await consumer?.stop().catch(() => {});
    await consuming?.catch(() => {});
    await broker?.disconnect().catch(() => {});
    await client.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Tables whose name matches `pattern`, in order. */
async function tableNames(db: OutboxDb, pattern: string): Promise<string[]> {
  const result = (await db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_name like ${pattern} order by 1`)) as unknown;
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ table_name: string }>;
  return rows.map((r) => r.table_name);
}

/** A component's log lines (of the given levels), indented under the current step; `seen` gets every line. */
function narrated(tag: string, levels: string[], seen: (text: string) => void = () => {}): Logger {
  const line = (level: string, label: string) => (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    seen(text);
    if (levels.includes(level)) say(`   ${tag}${label}: ${text}`);
  };
  return { debug: () => {}, info: line('info', ''), warn: line('warn', ' (warning)'), error: line('error', ' (error)') };
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.message}\n`);
    process.exit(1);
  },
);

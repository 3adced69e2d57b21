/**
 * Consumer throughput with the inbox (each message: one transaction with a business insert and
 * `payload.save(tx)`, then ACK) at concurrency 1 and 16, beside the raw consume ceiling measured in the
 * same run on the same pre-filled queue size: a bare-socket STOMP subscriber that ACKs every message
 * (client-individual, same prefetch) and touches no database. For context it also measures the database
 * bound: the same transaction (business insert + inbox insert) with no broker, as many at once as the
 * consumer's concurrency. Both handler forms: `(payload)` opening its own transaction on postgres.js, and
 * `(payload, { tx })` in the consumer's transaction on node-postgres, as `outbox consume` runs it. One JSON
 * line per figure.
 *
 *   npm run bench -- consume          # BENCH_CONSUME_MESSAGES=3000 by default
 */
import { randomUUID } from 'node:crypto';
import { connect as dial } from 'node:net';
import { sql } from 'drizzle-orm';
import { resolveConfig, type ResolvedConfig } from '../../src/config/resolve.js';
import { createConsumer } from '../../src/consumer/consumer.js';
import { subscribeHeaders } from '../../src/consumer/subscription.js';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { openDatabase } from '../../src/db/open.js';
import type { OutboxDb } from '../../src/db/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, rabbitmqctl, STOMP_HOST, STOMP_PORT, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';

const MESSAGES = Number(process.env.BENCH_CONSUME_MESSAGES ?? 3000);

function config(url: string, concurrency: number, prefetchCount: number): ResolvedConfig {
  return resolveConfig(
    { database: { url }, broker: { hosts: [{ host: STOMP_HOST, port: STOMP_PORT }] }, consumer: { concurrency, prefetchCount } },
    {},
  );
}

function depth(queue: string): number {
  const out = rabbitmqctl('list_queues', 'name', 'messages', '--no-table-headers');
  const line = out.split('\n').find((l) => l.trim().split(/\s+/)[0] === queue);
  return line ? Number(line.trim().split(/\s+/)[1]) : -1;
}

/** Declares `queue` bound to `/topic/<queue>` with the consumer's own headers, then fills it. */
async function prefill(c: ResolvedConfig, queue: string): Promise<void> {
  const s = await connect({ broker: c.broker, logger: silentLogger, window: 500 });
  s.subscribe(`/topic/${queue}`, { ...subscribeHeaders(c.consumer, queue), 'prefetch-count': '1' }, () => {}, 'declare');
  await s.disconnect();
  const pub = await connect({ broker: c.broker, logger: silentLogger, window: 500 });
  const body = JSON.stringify({ id: 0, customer: 'c-000000', status: 'paid', total: '123.45', note: 'x'.repeat(120) });
  const sends: Promise<void>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    sends.push(
      pub.send(`/topic/${queue}`, body, {
        headers: { persistent: 'true', 'content-type': 'application/json', 'dop-msg-id': randomUUID(), 'dop-correlation-id': randomUUID() },
      }),
    );
  }
  await Promise.all(sends);
  await pub.disconnect();
  await waitFor(() => depth(queue) === MESSAGES, 30_000, 100);
}

/**
 * The ceiling: the least a STOMP consumer can do per message — read the frame, write an ACK. Frames are
 * split on NUL (the bodies here are JSON, never NUL), acks for one socket read go out in one write.
 */
function rawConsume(queue: string, prefetch: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dial(STOMP_PORT, STOMP_HOST);
    socket.setNoDelay(true);
    let buffer = '';
    let acked = 0;
    let started = 0;
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0');
    });
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let out = '';
      let end: number;
      while ((end = buffer.indexOf('\0')) >= 0) {
        const frame = buffer.slice(0, end).replace(/^\n+/, '');
        buffer = buffer.slice(end + 1);
        if (frame.startsWith('CONNECTED')) {
          out += `SUBSCRIBE\nid:raw\ndestination:/amq/queue/${queue}\nack:client-individual\nprefetch-count:${prefetch}\n\n\0`;
        } else if (frame.startsWith('MESSAGE')) {
          if (!started) started = performance.now();
          const ack = /\nack:([^\n]*)/.exec(frame)?.[1];
          out += `ACK\nid:${ack}\n\n\0`;
          if (++acked === MESSAGES) {
            const seconds = (performance.now() - started) / 1000;
            socket.write(out + 'DISCONNECT\n\n\0', () => socket.end());
            resolve(MESSAGES / seconds);
            return;
          }
        } else if (frame.startsWith('ERROR')) {
          reject(new Error(frame));
        }
      }
      if (out) socket.write(out);
    });
  });
}

async function inboxConsume(t: TestDatabase, queue: string, concurrency: number, prefetch: number, pg?: OutboxDb): Promise<number> {
  let started = 0;
  const ownTransaction = async (p: Payload<{ total: string }>) => {
    if (!started) started = performance.now();
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`insert into bench_orders (message_id, total) values (${p.messageId}, ${p.body.total})`);
      await p.save(tx);
    });
  };
  const inConsumerTransaction = async (p: Payload<{ total: string }>, { tx }: HandlerContext) => {
    if (!started) started = performance.now();
    await tx.execute(sql`insert into bench_orders (message_id, total) values (${p.messageId}, ${p.body.total})`);
  };
  const consumer = createConsumer({
    db: pg ?? t.db,
    handler: pg ? inConsumerTransaction : ownTransaction,
    config: config(t.url, concurrency, prefetch),
    destination: `/topic/${queue}`,
    queue,
    logger: silentLogger,
  });
  const running = consumer.run();
  await waitFor(() => consumer.stats().acked >= MESSAGES, 300_000, 5);
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  await running;
  const s = consumer.stats();
  if (s.acked !== MESSAGES || s.duplicate + s.recorded + s.nacked + s.failed + s.unsettled !== 0) {
    throw new Error(`unexpected outcomes: ${JSON.stringify(s)}`);
  }
  return MESSAGES / seconds;
}

/** The handler's transaction alone, `parallel` at a time, no broker and no inbox lookups. */
async function dbOnly(t: TestDatabase, parallel: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < MESSAGES) {
      const id = randomUUID();
      await t.db.transaction(async (tx) => {
        await tx.execute(sql`insert into bench_orders (message_id, total) values (${id}, ${'123.45'})`);
        await tx.execute(sql`insert into outbox_received (message_id, destination, body, headers) values (${id}, '/topic/x', '{}', '{}')`);
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return MESSAGES / ((performance.now() - started) / 1000);
}

const t = await createTestDatabase();
const pg = await openDatabase(config(t.url, 16, 32), { poolSize: 34, connectTimeout: 10 });
const queues: string[] = [];
try {
  await t.sql`create table bench_orders (message_id text primary key, total numeric not null, at timestamptz not null default now())`;
  for (const [concurrency, prefetch] of [[1, 1], [16, 32]] as const) {
    const rawQueue = uniqueName('bench-raw');
    const inboxQueue = uniqueName('bench-inbox');
    const txQueue = uniqueName('bench-inbox-tx');
    queues.push(rawQueue, inboxQueue, `DLQ.${inboxQueue}`, txQueue, `DLQ.${txQueue}`);
    const c = config(t.url, concurrency, prefetch);
    await prefill(c, rawQueue);
    await prefill(c, inboxQueue);
    await prefill(c, txQueue);
    const ceiling = await rawConsume(rawQueue, prefetch);
    const inbox = await inboxConsume(t, inboxQueue, concurrency, prefetch);
    const inboxTx = await inboxConsume(t, txQueue, concurrency, prefetch, pg.db);
    const database = await dbOnly(t, concurrency);
    console.log(JSON.stringify({ bench: 'consume', figure: 'raw_ceiling', prefetch, messages: MESSAGES, msg_per_s: Math.round(ceiling) }));
    console.log(JSON.stringify({ bench: 'consume', figure: 'db_transaction_ceiling', parallel: concurrency, messages: MESSAGES, tx_per_s: Math.round(database) }));
    console.log(
      JSON.stringify({
        bench: 'consume',
        figure: 'inbox_consumer',
        concurrency,
        prefetch,
        messages: MESSAGES,
        msg_per_s: Math.round(inbox),
        ceiling_msg_per_s: Math.round(ceiling),
        ratio: Number((inbox / ceiling).toFixed(3)),
        db_ratio: Number((inbox / database).toFixed(3)),
      }),
    );
    console.log(
      JSON.stringify({
        bench: 'consume',
        figure: 'inbox_consumer_tx_form',
        concurrency,
        prefetch,
        messages: MESSAGES,
        msg_per_s: Math.round(inboxTx),
        ceiling_msg_per_s: Math.round(ceiling),
        ratio: Number((inboxTx / ceiling).toFixed(3)),
        db_ratio: Number((inboxTx / database).toFixed(3)),
        vs_own_transaction: Number((inboxTx / inbox).toFixed(3)),
      }),
    );
  }
} finally {
  for (const q of queues) deleteQueue(q);
  await pg.close();
  await t.drop();
}

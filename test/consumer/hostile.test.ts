/**
 * Hostile input through the real broker: each bad message is followed by a valid one, and RabbitMQ hands
 * them all to the consumer (a raw SEND can carry what our own client refuses to write). For each: the
 * consumer keeps running, every valid message behind it is handled, and the bad one ends in DLQ.<queue>
 * with one log line saying why. The handler is written the way the README recommends.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HandlerContext, Payload } from '../../src/consumer/types.js';
import { uniqueName, waitFor } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  captureLogger, cleanupQueues, createEffects, declareQueues, drainDeadLetters, nodePostgres, queueCounts, startConsumer, testConfig,
} from './helpers/env.js';
import { rawSend, type RawFrame } from './helpers/raw-send.js';
import { startFakeStompServer } from '../helpers/fake-stomp-server.js';
import type { Frame } from '../../src/stomp/types.js';

let t: TestDatabase;
let pg: Awaited<ReturnType<typeof nodePostgres>>;
const queue = uniqueName('hostile');
const destination = `/topic/${queue}`;

test.before(async () => {
  t = await createTestDatabase();
  await createEffects(t);
  pg = await nodePostgres(t.url);
});
test.after(async () => {
  cleanupQueues(queue);
  await pg?.close();
  await t?.drop();
});

/** The README's handler: reject what is not an order, write the effect with the consumer's transaction. */
async function onOrder(p: Payload<{ n: number }>, { tx }: HandlerContext): Promise<void> {
  if (typeof p.body !== 'object' || p.body === null || typeof p.body.n !== 'number') return p.nack();
  await tx.execute(sql`insert into effects (message_id, body) values (${p.messageId}, ${JSON.stringify(p.body)}::jsonb)`);
}

const base = (id: string | Buffer): Array<[string, string | Buffer]> => [
  ['destination', destination],
  ['persistent', 'true'],
  ['content-type', 'application/json'],
  ['dop-msg-id', id],
];

interface Row {
  name: string;
  frame: RawFrame;
  /** The one log line that must say why. */
  says: RegExp;
}

const rows: Row[] = [
  {
    name: 'NUL in the dedup key',
    frame: { headers: base(Buffer.from('bad\0key')), body: '{"n":1}' },
    says: /has a dop-msg-id header that contains NUL at character 3: dead-lettering it/,
  },
  {
    name: 'a control character in the dedup key',
    frame: { headers: base(Buffer.from('bad\u0001key')), body: '{"n":1}' },
    says: /has a dop-msg-id header that contains the control character U\+0001/,
  },
  {
    name: 'invalid UTF-8 in the dedup key',
    frame: { headers: base(Buffer.from([0x6b, 0xff, 0xfe, 0x6b])), body: '{"n":1}' },
    says: /has a dop-msg-id header that contains invalid UTF-8 \(U\+FFFD\) at character 1/,
  },
  {
    name: 'a dedup key over 255 bytes',
    frame: { headers: base('k'.repeat(300)), body: '{"n":1}' },
    says: /has a dop-msg-id header that is 300 bytes long \(the limit is 255\)/,
  },
  {
    name: 'NUL in another header',
    frame: { headers: [...base(randomUUID()), ['x-note', Buffer.from('a\0b')]], body: '{"n":1}' },
    says: /has a header "x-note" the inbox cannot store: a string holds \\u0000/,
  },
  {
    name: 'invalid UTF-8 in the body',
    frame: { headers: base(randomUUID()), body: Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x7b, 0x7d]) },
    says: /has a body that is not valid UTF-8 \(6 bytes\)/,
  },
  {
    name: 'a JSON body holding \\u0000',
    frame: { headers: base(randomUUID()), body: '{"n":1,"note":"a\\u0000b"}' },
    says: /has a body the inbox cannot store: a string holds \\u0000/,
  },
  {
    name: 'a JSON body holding an unpaired surrogate',
    frame: { headers: base(randomUUID()), body: '{"n":1,"note":"\\ud800"}' },
    says: /has a body the inbox cannot store: a string holds an unpaired surrogate/,
  },
  {
    name: 'a 1 MB header value',
    frame: { headers: [...base('big-header-1'), ['x-big', 'h'.repeat(1024 * 1024)]], body: '{"n":1}' },
    says: /message "big-header-1" cannot be read \(MESSAGE frame discarded: a header line of 1048582 bytes, \d+ over maxHeaderLine 65536\)/,
  },
  {
    name: '10,000 headers',
    frame: { headers: [...base('many-headers-1'), ...Array.from({ length: 10_000 }, (_, i): [string, string] => [`x-h${i}`, 'v'])], body: '{"n":1}' },
    says: /message "many-headers-1" cannot be read \(MESSAGE frame discarded: \d+ headers, \d+ over maxHeaders 1000\)/,
  },
  {
    name: 'a body over the 16 MiB frame limit',
    frame: { headers: base('big-body-1'), body: Buffer.alloc(17 * 1024 * 1024, 0x20) },
    says: /message "big-body-1" cannot be read \(MESSAGE frame discarded: \d+ bytes, \d+ over maxFrameSize 16777216\)/,
  },
  {
    name: 'an empty body',
    frame: { headers: base('empty-body-1'), body: '' },
    says: /handler nacked message empty-body-1/,
  },
];

test('each bad message ends in the DLQ with one line saying why; every valid one behind it is handled', async () => {
  const config = testConfig(t.url);
  await declareQueues(config, destination, queue);
  const valid: string[] = [];
  const frames: RawFrame[] = [];
  for (const row of rows) {
    const id = randomUUID();
    valid.push(id);
    frames.push(row.frame, { headers: base(id), body: JSON.stringify({ n: valid.length }) });
  }
  await rawSend(frames);

  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db: pg.db, config, handler: onOrder, destination, queue, logger });
  let ended: string | undefined;
  running.then(() => (ended = 'resolved'), (e: Error) => (ended = `rejected: ${e.message}`));
  try {
    await waitFor(() => consumer.stats().acked === valid.length || ended, 60_000);
    await waitFor(() => queueCounts(`DLQ.${queue}`)?.messages === rows.length, 30_000);
    assert.is(ended, undefined, 'the consumer is still running');
  } finally {
    await consumer.stop();
    await running.catch(() => {});
  }

  const effects = await t.sql`select message_id from effects order by (body->>'n')::int`;
  assert.equal(effects.map((e) => e.message_id), valid, 'every valid message handled once, in order');
  assert.equal(queueCounts(queue), { messages: 0, unacked: 0 });
  const s = consumer.stats();
  assert.equal([s.acked, s.invalid, s.nacked], [valid.length, rows.length - 1, 1], JSON.stringify(s));
  for (const row of rows) {
    const lines = logger.lines.filter((l) => (l.level === 'error' || l.level === 'warn' || l.level === 'info') && row.says.test(l.text));
    assert.is(lines.length, 1, `${row.name}: one line says why (${JSON.stringify(logger.lines.map((l) => l.text))})`);
  }
  const dead = await drainDeadLetters(config, queue, rows.length);
  assert.is(dead.length, rows.length);
});

/**
 * A broker that lies about content-length, which RabbitMQ never does (it sets the header itself): a scripted
 * one on a real socket, that delivers every unsettled message again on each new connection, as RabbitMQ does,
 * and dead-letters what is NACKed with requeue:false.
 */
async function lyingBroker(messages: Array<{ id: string; wire: (ack: string, subscription: string) => Buffer }>) {
  const settled = new Map<string, 'ACK' | 'NACK'>();
  const dead: string[] = [];
  let connections = 0;
  const server = await startFakeStompServer(async (peer) => {
    const n = connections++;
    await peer.expect('CONNECT');
    peer.connected();
    const acks = new Map<string, string>();
    for (;;) {
      let frame: Frame;
      try {
        frame = await peer.expect();
      } catch {
        return;
      }
      if (frame.headers.receipt) peer.frame('RECEIPT', { 'receipt-id': frame.headers.receipt });
      if (frame.command === 'SUBSCRIBE' && !frame.headers.destination!.startsWith('/queue/DLQ.')) {
        // Everything not settled yet, in one write, as a broker with a large prefetch would.
        const out: Buffer[] = [];
        for (const m of messages) {
          if (settled.has(m.id)) continue;
          const ack = `c${n}-${m.id}`;
          acks.set(ack, m.id);
          out.push(m.wire(ack, frame.headers.id!));
        }
        peer.write(Buffer.concat(out));
      }
      if (frame.command === 'ACK' || frame.command === 'NACK') {
        const id = acks.get(frame.headers.id!);
        if (id && !settled.has(id)) {
          settled.set(id, frame.command);
          if (frame.command === 'NACK' && frame.headers.requeue === 'false') dead.push(id);
        }
      }
      if (frame.command === 'DISCONNECT') return peer.end();
    }
  });
  return { server, settled, dead, connections: () => connections };
}

const message = (id: string, body: string, contentLength = Buffer.byteLength(body)) => (ack: string, subscription: string) =>
  Buffer.from(
    `MESSAGE\nsubscription:${subscription}\nmessage-id:m-${id}\nack:${ack}\ndestination:${destination}\ncontent-type:application/json\n` +
      `dop-msg-id:${id}\ncontent-length:${contentLength}\n\n${body}\0\n`,
  );

test('content-length lying both ways (a scripted broker): each liar dead-lettered with one line, every valid message handled', async () => {
  const valid = Array.from({ length: 6 }, () => randomUUID());
  const body = (i: number) => JSON.stringify({ n: i, pad: 'p'.repeat(40) });
  const messages = [
    // Says 3: the body goes on past it.
    { id: 'short-liar', wire: message('short-liar', body(0), 3) },
    ...valid.slice(0, 2).map((id, i) => ({ id, wire: message(id, body(i + 1)) })),
    // Says 400: the frames behind it are read as its body, and where it says the body ends there is no NUL.
    { id: 'long-liar', wire: message('long-liar', body(0), 400) },
    ...valid.slice(2).map((id, i) => ({ id, wire: message(id, body(i + 3)) })),
  ];
  const broker = await lyingBroker(messages);
  const config = testConfig(t.url, { prefetchCount: 8, concurrency: 2 }, [0, 0]);
  config.broker.hosts = [broker.server.host];
  const logger = captureLogger();
  const { consumer, running } = startConsumer({ db: pg.db, config, handler: onOrder, destination, queue: 'lying', logger });
  let ended: string | undefined;
  running.then(() => (ended = 'resolved'), (e: Error) => (ended = `rejected: ${e.message}`));
  try {
    await waitFor(() => valid.every((id) => broker.settled.get(id) === 'ACK') && broker.dead.length === 2, 30_000);
    assert.is(ended, undefined, 'the consumer is still running');
  } finally {
    await consumer.stop();
    await running.catch(() => {});
    await broker.server.close();
  }
  assert.equal(broker.dead.sort(), ['long-liar', 'short-liar']);
  const effects = await t.sql`select message_id, count(*)::int as n from effects where message_id in ${t.sql(valid)} group by message_id`;
  assert.equal(effects.map((e) => [e.message_id, e.n]).sort(), valid.map((id) => [id, 1]).sort(), 'every valid message handled once');
  for (const liar of ['short-liar', 'long-liar']) {
    const lines = logger.said(new RegExp(`message "${liar}" cannot be read \\(MESSAGE frame body does not end where its content-length \\(\\d+\\) says`));
    assert.is(lines.length, 1, `${liar}: one line says why (${JSON.stringify(logger.lines.map((l) => l.text))})`);
  }
});

test.run();

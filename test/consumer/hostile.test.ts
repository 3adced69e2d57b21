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
    await waitFor(() => consumer.stats().acked === valid.length || ended, 30_000);
    await waitFor(() => queueCounts(`DLQ.${queue}`)?.messages === rows.length, 10_000);
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

test.run();

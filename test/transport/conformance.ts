/**
 * The contract every transport keeps, as one suite each implementation runs: the in-memory one in
 * memory.test.ts, STOMP against RabbitMQ in stomp.test.ts and against ActiveMQ in activemq.test.ts.
 *
 * Publishing (every transport): a send resolves only once the broker has the message; confirmations come in
 * send order; a refused destination fails its send with E_BROKER_ERROR and ends the connection, failing
 * the sends still waiting beside it; `destroy` fails what is pending; `disconnect` waits for it; headers
 * (escaped characters too) and bodies arrive as sent.
 *
 * Consuming (a transport that has it: a real broker, through its entry in src/transport/brokers.ts): the
 * consumer's durable queue gets what is sent to the topic; ACKed messages are gone; a NACK dead-letters to the
 * entry's dead-letter queue; what was delivered and not settled comes again on the next connection;
 * heart-beats keep an idle connection up; a binary body (NUL and all) and a large one arrive byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { test as uvuTest } from 'uvu';
import * as assert from 'uvu/assert';
import { isOutboxError } from '../../src/errors.js';
import type { StompMessage, StompSession } from '../../src/stomp/types.js';
import { brokerTraits, type BrokerTraits, type ConsumeTarget } from '../../src/transport/brokers.js';
import type { Publisher } from '../../src/transport/types.js';
import { resolveConfig } from '../../src/config/resolve.js';

export interface Delivered {
  body: string;
  headers: Record<string, string>;
}

export interface TransportHarness {
  name: string;
  /** Opens a fresh connection. */
  open(): Promise<Publisher>;
  /** A destination that receives, and a way to read back `count` messages from it (waits for them). */
  destination(): Promise<{ destination: string; read(count: number): Promise<Delivered[]> }>;
  /** A destination the broker refuses. */
  refused(): Promise<string>;
  /**
   * Whether a SEND written after a refused one may still be confirmed. RabbitMQ closes the connection on the
   * refusal, so nothing after it is; ActiveMQ answers the one SEND with an ERROR (naming it by `receipt-id`)
   * and confirms the rest while the session winds down.
   */
  confirmsAfterRefusal?: boolean;
  /** Consuming, where the transport has it. */
  consuming?: ConsumingHarness;
  cleanup?(): Promise<void> | void;
}

export interface ConsumingHarness {
  /** Opens a STOMP session (heart-beats off unless asked). */
  open(heartbeat?: [number, number]): Promise<StompSession>;
  /** A queue name no other test uses; remembered for cleanup. */
  queue(): string;
}

const codeOf = (e: unknown) => (isOutboxError(e) ? e.code : String(e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(check: () => T | undefined | false, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The consumer settings of the consuming cases. `x-expires` (a RabbitMQ queue argument, which the ActiveMQ
 * entry leaves out as it does every `x-*` one) lets RabbitMQ drop the suite's queues a minute after their
 * last use: deleting each with rabbitmqctl would cost a second apiece.
 */
const settings = resolveConfig({ consumer: { prefetchCount: 50, queueHeaders: { 'x-expires': '60000' } } }, {}).consumer;

/** A consumer's queue for a fresh topic, subscribed (so the broker routes to it), collecting what comes. */
async function consumerOf(session: StompSession, topic: string, queue: string, id = 'conformance') {
  const traits = brokerTraits(session.flavor);
  const target = traits.consume(topic, queue, settings);
  const got: StompMessage[] = [];
  const sub = session.subscribe(target.destination, target.headers, (m) => got.push(m), id);
  await sub.ready;
  return { traits, target, got, sub };
}

/** Declares what must exist before the first NACK (RabbitMQ's DLQ), as the consumer does. */
async function prepareDeadLetters(session: StompSession, target: ConsumeTarget): Promise<void> {
  if (!target.declareDeadLetter) return;
  const sub = session.subscribe(target.declareDeadLetter.destination, target.declareDeadLetter.headers, () => {}, 'declare-dlq');
  await sub.ready;
  await sub.unsubscribe();
}

/** Reads `count` messages from an existing queue (acking them), on a connection of its own. */
async function drain(h: ConsumingHarness, traits: BrokerTraits, queue: string, count: number): Promise<StompMessage[]> {
  const s = await h.open();
  const got: StompMessage[] = [];
  const sub = s.subscribe(traits.existingQueue(queue), traits.readHeaders(100), (m) => {
    got.push(m);
    s.ack(m);
  });
  await sub.ready;
  await until(() => got.length >= count, `${count} message(s) in ${queue}`);
  await s.disconnect();
  return got;
}

export function publisherConformance(harness: TransportHarness): void {
  const name = (what: string) => `${harness.name}: ${what}`;
  // CONFORMANCE_TRACE=1 says which case is running (a hang shows where it is).
  const test = (title: string, fn: () => Promise<void>) =>
    uvuTest(title, async () => {
      if (process.env.CONFORMANCE_TRACE) console.error(`… ${title}`);
      await fn();
    });

  uvuTest.after(async () => {
    await harness.cleanup?.();
  });

  test(name('a send resolves once the broker has it; the message arrives as sent'), async () => {
    const p = await harness.open();
    const { destination, read } = await harness.destination();
    await p.send(destination, '{"n":1}', { headers: { 'dop-msg-id': 'a:b\\c\nd', 'x-unicode': 'héllo ✓' } });
    const [message] = await read(1);
    assert.is(message!.body, '{"n":1}');
    assert.is(message!.headers['dop-msg-id'], 'a:b\\c\nd', 'escaped characters round-trip');
    assert.is(message!.headers['x-unicode'], 'héllo ✓');
    await p.disconnect();
    assert.is(await p.closed, undefined, 'a clean disconnect ends with no reason');
  });

  test(name('a pipelined burst: every send resolves, in order, and arrives in order'), async () => {
    const p = await harness.open();
    const { destination, read } = await harness.destination();
    const confirmed: number[] = [];
    const n = 1000;
    await Promise.all(Array.from({ length: n }, (_, i) => p.send(destination, String(i)).then(() => confirmed.push(i))));
    assert.equal(confirmed, Array.from({ length: n }, (_, i) => i), 'confirmations in send order');
    const got = await read(n);
    assert.equal(got.map((m) => Number(m.body)), Array.from({ length: n }, (_, i) => i));
    await p.disconnect();
  });

  test(name('a large body arrives whole'), async () => {
    const p = await harness.open();
    const { destination, read } = await harness.destination();
    const body = JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) });
    await p.send(destination, body);
    const [message] = await read(1);
    assert.is(message!.body.length, body.length);
    await p.disconnect();
  });

  test(name('a refused destination fails its send with E_BROKER_ERROR and ends the connection, failing the sends beside it'), async () => {
    const p = await harness.open();
    const { destination } = await harness.destination();
    const bad = await harness.refused();
    // Sent before the refusal, it may be confirmed or fail with it: RabbitMQ publishes it but may not have
    // confirmed it when the ERROR ends the connection (the relay then resends it: at-least-once).
    const before = p.send(destination, 'before').then(() => 'ok', (e: unknown) => codeOf(e));
    const refused = p.send(bad, 'refused').then(() => undefined, (e: unknown) => e);
    const after = Array.from({ length: 20 }, (_, i) => p.send(destination, `after ${i}`).then(() => 'ok', (e: unknown) => codeOf(e)));
    assert.ok(['ok', 'E_BROKER_ERROR', 'E_CONNECTION_CLOSED'].includes(await before), await before);
    assert.is(codeOf(await refused), 'E_BROKER_ERROR');
    const reason = await p.closed;
    assert.ok(reason, 'the connection ended with a reason');
    // RabbitMQ handles a connection's frames in order and closes on the refusal: nothing after it is confirmed.
    const allowed = harness.confirmsAfterRefusal ? ['ok', 'E_BROKER_ERROR', 'E_CONNECTION_CLOSED'] : ['E_BROKER_ERROR', 'E_CONNECTION_CLOSED'];
    for (const outcome of await Promise.all(after)) assert.ok(allowed.includes(outcome), outcome);
  });

  test(name('destroy fails every pending send and ends the connection with its reason'), async () => {
    const p = await harness.open();
    const { destination } = await harness.destination();
    const pending = Array.from({ length: 50 }, (_, i) => p.send(destination, String(i)).then(() => 'ok', (e: unknown) => codeOf(e)));
    p.destroy();
    const outcomes = await Promise.all(pending);
    assert.ok(outcomes.some((o) => o !== 'ok'), 'sends not yet confirmed failed');
    for (const o of outcomes) assert.ok(o === 'ok' || o === 'E_CONNECTION_CLOSED', o);
    assert.ok(await p.closed, 'closed with a reason');
    assert.is(codeOf(await p.send(destination, 'late').catch((e: unknown) => e)), 'E_CONNECTION_CLOSED', 'a send after the end fails at once');
  });

  test(name('disconnect waits for pending confirmations'), async () => {
    const p = await harness.open();
    const { destination, read } = await harness.destination();
    const sends = Array.from({ length: 200 }, (_, i) => p.send(destination, String(i)));
    await p.disconnect();
    await Promise.all(sends);
    assert.is((await read(200)).length, 200);
  });

  const h = harness.consuming;
  if (!h) return;

  test(name("the consumer's queue gets what is sent to the topic; ACKed messages are gone for good"), async () => {
    const topic = `/topic/${h.queue()}`;
    const s = await h.open();
    const c = await consumerOf(s, topic, h.queue());
    const p = await h.open();
    for (let i = 0; i < 3; i++) await p.send(topic, `m${i}`, { headers: { persistent: 'true', 'dop-msg-id': `id-${i}` } });
    await until(() => c.got.length === 3, '3 deliveries');
    assert.equal(c.got.map((m) => m.body.toString()), ['m0', 'm1', 'm2']);
    assert.equal(c.got.map((m) => m.headers['dop-msg-id']), ['id-0', 'id-1', 'id-2']);
    for (const m of c.got) s.ack(m);
    await s.disconnect();
    // A second connection sees only what came after: the ACKs took the three away.
    const s2 = await h.open();
    const again: StompMessage[] = [];
    await s2.subscribe(c.target.destination, c.target.headers, (m) => again.push(m)).ready;
    await p.send(topic, 'marker', { headers: { persistent: 'true' } });
    await until(() => again.length >= 1, 'the marker');
    assert.equal(again.map((m) => m.body.toString()), ['marker']);
    s2.ack(again[0]!);
    await s2.disconnect();
    await p.disconnect();
  });

  test(name("a NACK dead-letters the message to the broker entry's dead-letter queue, headers and body intact"), async () => {
    const topic = `/topic/${h.queue()}`;
    const s = await h.open();
    const c = await consumerOf(s, topic, h.queue());
    await prepareDeadLetters(s, c.target);
    const p = await h.open();
    await p.send(topic, '{"bad":true}', { headers: { persistent: 'true', 'dop-msg-id': 'dead-1', 'x-note': 'a:b\\c' } });
    await until(() => c.got.length === 1, 'the delivery');
    s.nack(c.got[0]!, { ...c.traits.deadLetterNack });
    const [dead] = await drain(h, c.traits, c.target.deadLetterQueue, 1);
    assert.is(dead!.body.toString(), '{"bad":true}');
    assert.is(dead!.headers['dop-msg-id'], 'dead-1');
    assert.is(dead!.headers['x-note'], 'a:b\\c');
    assert.ok(c.traits.deathReason(dead!.headers), 'the broker recorded why');
    // Not redelivered to the queue it was NACKed from.
    await p.send(topic, 'marker', { headers: { persistent: 'true' } });
    await until(() => c.got.length >= 2, 'the marker');
    assert.equal(c.got.map((m) => m.body.toString()), ['{"bad":true}', 'marker']);
    s.ack(c.got[1]!);
    await s.disconnect();
    await p.disconnect();
  });

  test(name('what was delivered and not settled comes again on the next connection'), async () => {
    const topic = `/topic/${h.queue()}`;
    const s = await h.open();
    const c = await consumerOf(s, topic, h.queue());
    const p = await h.open();
    for (let i = 0; i < 2; i++) await p.send(topic, `r${i}`, { headers: { persistent: 'true', 'dop-msg-id': `r-${i}` } });
    await until(() => c.got.length === 2, '2 deliveries');
    s.destroy(); // dropped, nothing settled
    const s2 = await h.open();
    const again: StompMessage[] = [];
    await s2.subscribe(c.target.destination, c.target.headers, (m) => again.push(m)).ready;
    await until(() => again.length === 2, 'the 2 redeliveries');
    assert.equal(again.map((m) => m.headers['dop-msg-id']).sort(), ['r-0', 'r-1']);
    for (const m of again) s2.ack(m);
    await s2.disconnect();
    await p.disconnect();
  });

  test(name('binary and large bodies arrive byte for byte'), async () => {
    const topic = `/topic/${h.queue()}`;
    const s = await h.open();
    const c = await consumerOf(s, topic, h.queue());
    const p = await h.open();
    const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0, 0, 10, 13, 0])]);
    const large = randomBytes(3 * 1024 * 1024);
    await p.send(topic, binary, { headers: { persistent: 'true', 'content-type': 'application/octet-stream' } });
    await p.send(topic, large, { headers: { persistent: 'true', 'content-type': 'application/octet-stream' } });
    await until(() => c.got.length === 2, 'both bodies');
    assert.ok(c.got[0]!.body.equals(binary), 'every byte value, NUL included');
    assert.ok(c.got[1]!.body.equals(large), '3 MiB of random bytes');
    for (const m of c.got) s.ack(m);
    await s.disconnect();
    await p.disconnect();
  });

  test(name('heart-beats are negotiated and keep an idle connection up'), async () => {
    // Periods of 2.5 s, not 1 s: ActiveMQ closes a connection that sent nothing for one period (its
    // hbGracePeriodMultiplier defaults to 1.0), and idle we beat every half period, so this process held up
    // for half a second on a busy machine failed the test at 1 s with nothing wrong.
    const s = await h.open([2500, 2500]);
    try {
      const [theirSend, theirReceive] = (s.server['heart-beat'] ?? '0,0').split(',').map(Number);
      assert.ok(theirSend! > 0 && theirReceive! > 0, `the broker heart-beats (${s.server['heart-beat']})`);
      let ended = false;
      void s.closed.then(() => (ended = true));
      // Idle for over two periods each way: only heart-beats cross the wire.
      await sleep(6_000);
      assert.is(ended, false, 'neither side gave up on the other');
      await s.send(`/topic/${h.queue()}`, 'still here');
    } finally {
      await s.disconnect();
    }
  });
}

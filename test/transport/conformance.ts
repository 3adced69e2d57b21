/**
 * The contract every transport's Publisher keeps, as one suite each implementation runs (the in-memory one
 * in memory.test.ts, STOMP against RabbitMQ in stomp.test.ts). What the relay relies on is exactly this:
 * a send resolves only once the broker has the message; confirmations come in send order; a refused
 * destination fails its send with E_BROKER_ERROR and ends the connection, failing every send beside it;
 * `destroy` fails what is pending; `disconnect` waits for it; headers and bodies arrive as sent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isOutboxError } from '../../src/errors.js';
import type { Publisher } from '../../src/transport/types.js';

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
  cleanup?(): Promise<void> | void;
}

const codeOf = (e: unknown) => (isOutboxError(e) ? e.code : String(e));

export function publisherConformance(harness: TransportHarness): void {
  const name = (what: string) => `${harness.name}: ${what}`;

  test.after(async () => {
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
    // The broker handles a connection's frames in order: nothing sent after the refused one is confirmed.
    for (const outcome of await Promise.all(after)) assert.ok(['E_BROKER_ERROR', 'E_CONNECTION_CLOSED'].includes(outcome), outcome);
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
}

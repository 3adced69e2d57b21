/** Which row is to blame when the broker fails several pending sends at once. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { attribute, brokerWords, destinationNames, namesInBrokerError } from '../../src/relay/attribute.js';

const row = (seq: number, destination: string) => ({ seq, destination });
const precondition = new OutboxError(
  'E_BROKER_ERROR',
  "127.0.0.1:61613 sent ERROR: precondition_failed — PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'billing' in vhost '/': received none but current is the value '10' of type 'long'",
);

test('RabbitMQ names the queue or exchange in its ERROR text', () => {
  assert.equal([...namesInBrokerError(precondition.message)], ['billing']);
  assert.equal([...namesInBrokerError("NOT_FOUND - no exchange 'audit' in vhost '/'")], ['audit']);
  assert.equal(destinationNames('/queue/billing'), ['billing']);
  assert.equal(destinationNames('/amq/queue/billing'), ['billing']);
  assert.equal(destinationNames('/exchange/audit/key'), ['audit']);
  assert.equal(destinationNames('/topic/billing'), [], 'a topic SEND declares no queue, so a queue error never names it');
});

test("a log line quotes the broker's own words: no client prefix, no lowercase tag, no generic Processing error", () => {
  assert.is(
    brokerWords(`E_BROKER_ERROR: ${precondition.message}`),
    "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'billing' in vhost '/': received none but current is the value '10' of type 'long'",
  );
  // As the STOMP client joins the ERRORs RabbitMQ sends for one pipelined batch.
  const several = "127.0.0.1:61613 sent ERROR: Processing error — Processing error · then ERROR: not_found — NOT_FOUND - no exchange 'audit' in vhost '/'";
  assert.is(brokerWords(several), "NOT_FOUND - no exchange 'audit' in vhost '/'");
  assert.is(brokerWords('x sent ERROR: Processing error — Processing error'), 'Processing error', 'alone, it is all the broker said');
  assert.is(brokerWords('the connection to x was closed by the peer'), 'the connection to x was closed by the peer');
});

test('a broker ERROR blames the rows it names and releases the bystanders', () => {
  const failures = [row(1, '/topic/orders'), row(2, '/queue/billing'), row(3, '/topic/orders'), row(4, '/queue/billing')].map((r) => ({
    row: r,
    error: precondition,
  }));
  const v = attribute(failures);
  assert.equal(v.blame.map((b) => b.row.seq), [2, 4]);
  assert.equal(v.release.map((b) => b.row.seq), [1, 3]);
  assert.equal(v.retry, []);
  assert.ok(v.blame[0]!.message.includes('PRECONDITION_FAILED'), 'the broker message is kept for last_error');
});

test('an ERROR that names none of them blames nobody: every row is released as a suspect', () => {
  // Blaming the oldest unconfirmed send charged a healthy destination for RabbitMQ's generic
  // "Processing error"; the suspects are probed one by one instead, where a refusal names itself.
  const err = new OutboxError('E_BROKER_ERROR', 'x sent ERROR: Processing error — Processing error');
  const v = attribute([row(7, '/queue/a'), row(5, '/queue/b'), row(6, '/queue/c')].map((r) => ({ row: r, error: err })));
  assert.equal(v.blame, []);
  assert.equal(v.release, []);
  assert.equal(v.suspect.map((b) => b.row.seq), [7, 5, 6]);
});

test('a generic ERROR followed by one that names the queue blames the named rows only', () => {
  const both = new OutboxError('E_BROKER_ERROR', `x sent ERROR: Processing error — Processing error · then ERROR: ${precondition.message}`);
  const v = attribute([row(1, '/topic/orders'), row(2, '/queue/billing')].map((r) => ({ row: r, error: both })));
  assert.equal(v.blame.map((b) => b.row.seq), [2]);
  assert.equal(v.release.map((b) => b.row.seq), [1]);
});

test('rows failing with the close that follows an ERROR are bystanders too', () => {
  const closed = new OutboxError('E_CONNECTION_CLOSED', 'the connection is closed');
  const v = attribute([
    { row: row(1, '/queue/billing'), error: precondition },
    { row: row(2, '/queue/other'), error: closed },
  ]);
  assert.equal(v.blame.map((b) => b.row.seq), [1]);
  assert.equal(v.release.map((b) => b.row.seq), [2]);
});

test('a dropped connection without ERROR, or one that stopped confirming, is a failed attempt for every row', () => {
  const closed = new OutboxError('E_CONNECTION_CLOSED', 'closed by the peer');
  const late = new OutboxError('E_RECEIPT_TIMEOUT', 'no RECEIPT within 30 s');
  const v = attribute([
    { row: row(1, '/queue/a'), error: closed },
    { row: row(2, '/queue/a'), error: closed },
    { row: row(3, '/queue/b'), error: late },
  ]);
  assert.equal(v.retry.map((b) => b.row.seq), [1, 2, 3]);
  assert.equal(v.blame, []);
  assert.equal(v.release, []);
});

test('an ERROR about the connection itself (forced close, node shutdown) blames nobody: a drop for every row', () => {
  const forced = new OutboxError(
    'E_BROKER_ERROR',
    "127.0.0.1:61613 sent ERROR: AMQP channel died — Reason: {shutdown, {connection_closing, {server_initiated_close,320,<<\"test: blink\">>}}}",
  );
  const v = attribute([row(3, '/queue/a'), row(4, '/topic/b')].map((r) => ({ row: r, error: forced })));
  assert.equal(v.retry.map((b) => b.row.seq), [3, 4]);
  assert.equal(v.blame, []);
  assert.equal(v.release, []);
});

test('ActiveMQ names the destination as queue://, topic://, temp-queue://: its rows are blamed, the rest released', () => {
  const refused = new OutboxError(
    'E_BROKER_ERROR',
    '127.0.0.1:61614 sent ERROR: User guest is not authorized to write to: queue://billing — java.lang.SecurityException: User guest is not authorized to write to: queue://billing',
  );
  const failures = [row(1, '/topic/billing'), row(2, '/queue/billing'), row(3, '/queue/orders')].map((r) => ({ row: r, error: refused }));
  const v = attribute(failures);
  assert.equal(v.blame.map((b) => b.row.seq), [2], 'queue://billing is /queue/billing, not the topic of the same name');
  assert.equal(v.release.map((b) => b.row.seq), [1, 3]);
  const temp = new OutboxError('E_BROKER_ERROR', '127.0.0.1:61614 sent ERROR: temp-queue://ID:gone-1:1:1 — org.apache.activemq.DestinationDoesNotExistException');
  const w = attribute([row(1, '/remote-temp-queue/ID:gone-1:1:1'), row(2, '/topic/orders')].map((r) => ({ row: r, error: temp })));
  assert.equal(w.blame.map((b) => b.row.seq), [1]);
  // A RabbitMQ ERROR about queue 'billing' never blames an ActiveMQ-style name, nor a topic.
  assert.equal(attribute([row(1, '/topic/billing')].map((r) => ({ row: r, error: precondition }))).suspect.map((s) => s.row.seq), [1]);
});

test.run();

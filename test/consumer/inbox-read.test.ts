/**
 * The consumer's own database reads: only an outage is retried (with the database backoff, logged once per
 * change of cause), each try has a deadline, a missing table stops the consumer, and anything else — a data
 * error that would fail the same way forever — is thrown at once for the message to be dead-lettered.
 * Needs no services: the reads are stand-ins that fail as the drivers do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyDbFailure, deadlineExceeded } from '../../src/consumer/db-failure.js';
import { createInboxReader, GAVE_UP } from '../../src/consumer/inbox-read.js';
import { isOutboxError } from '../../src/errors.js';
import { createOutageLog } from '../../src/util/outage.js';
import { captureLogger } from './helpers/env.js';

const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(`Failed query: select 1`), { cause: Object.assign(new Error(message), { code }) });

test('what is an outage, a setup mistake, or the message', () => {
  const cases: Array<[unknown, string]> = [
    [pgError('57P01', 'terminating connection due to administrator command'), 'outage'],
    [pgError('57P03', 'the database system is starting up'), 'outage'],
    [pgError('08006'), 'outage'],
    [pgError('53300', 'too many connections'), 'outage'],
    [pgError('40001', 'could not serialize access'), 'outage'],
    [pgError('40P01', 'deadlock detected'), 'outage'],
    [pgError('57014', 'canceling statement due to statement timeout'), 'outage'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'outage'],
    [new Error('Connection terminated unexpectedly'), 'outage'],
    [deadlineExceeded('look it up', 15_000), 'outage'],
    [pgError('42P01', 'relation "outbox_received" does not exist'), 'setup'],
    [pgError('3D000', 'database "x" does not exist'), 'setup'],
    [pgError('28P01', 'password authentication failed'), 'setup'],
    [pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'), 'message'],
    [pgError('22P05', 'unsupported Unicode escape sequence'), 'message'],
    [pgError('54000', 'index row size 3000 exceeds btree version 4 maximum 2704'), 'message'],
    [pgError('23502', 'null value in column'), 'message'],
    [new TypeError('a bug'), 'message'],
  ];
  for (const [error, kind] of cases) assert.is(classifyDbFailure(error), kind, String((error as Error).cause ?? error));
});

test('an outage is retried until the read works, and logged once per cause, not per try', async () => {
  const logger = captureLogger();
  const read = createInboxReader({ outage: createOutageLog(logger, 'read the inbox', String), maxBackoff: 0.02 });
  let tries = 0;
  const value = await read('look it up', async () => {
    if (++tries < 6) throw pgError('57P03', 'the database system is starting up');
    return 'found';
  }, new AbortController().signal);
  assert.is(value, 'found');
  assert.is(tries, 6);
  assert.is(logger.said(/cannot read the inbox/).length, 1, JSON.stringify(logger.lines));
  assert.is(logger.said(/can read the inbox again after/).length, 1);
});

test('a read that does not answer within its deadline is an outage: tried again, never waited on for ever', async () => {
  const read = createInboxReader({ outage: createOutageLog(captureLogger(), 'read the inbox', String), maxBackoff: 0.02, deadlineMs: 50 });
  let tries = 0;
  const started = performance.now();
  const value = await read('look it up', () => (++tries === 1 ? new Promise<string>(() => {}) : Promise.resolve('found')), new AbortController().signal);
  assert.equal([value, tries], ['found', 2]);
  assert.ok(performance.now() - started < 2_000);
});

test('a data error is thrown at once (the message is dead-lettered); a missing table is E_DATABASE; an abort gives up', async () => {
  const read = createInboxReader({ outage: createOutageLog(captureLogger(), 'read the inbox', String), maxBackoff: 0.02 });
  const signal = new AbortController().signal;
  let tries = 0;
  const data = await read('look it up', async () => {
    tries++;
    throw pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
  }, signal).catch((e: unknown) => e);
  assert.is(tries, 1, 'not retried');
  assert.is(classifyDbFailure(data), 'message');

  const missing = await read('look it up', async () => {
    throw pgError('42P01', 'relation "outbox_received" does not exist');
  }, signal).catch((e: unknown) => e);
  assert.ok(isOutboxError(missing, 'E_DATABASE'), String(missing));
  assert.match((missing as Error).message, /outbox migrate/);

  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  const gaveUp = await read('look it up', async () => {
    throw pgError('57P01');
  }, stop.signal);
  assert.is(gaveUp, GAVE_UP);
});

test.run();

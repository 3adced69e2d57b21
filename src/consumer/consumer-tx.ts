/**
 * The `(payload, { tx })` form: the consumer opens the transaction (runTransaction: on node-postgres, a
 * client it checks out and always gives back), records the message in the inbox first (claimReceived — the
 * insert is also the dedup check, so a message already recorded costs no handler call and no lookup), runs
 * the handler in it and commits. Because the transaction is the consumer's, it knows what failed:
 *
 * | where it failed                | why                                      | then                                      |
 * |--------------------------------|------------------------------------------|-------------------------------------------|
 * | getting a connection           | an outage                                | wait (database backoff), run it again     |
 * | the inbox insert (and BEGIN,   | a committed row already holds the id     | ACK (`recorded`), the handler not run     |
 * | which goes with it, or with    | an outage or its deadline                | wait, run it again                        |
 * | the COMMIT before: chain.ts)   |                                          |                                           |
 * | the inbox insert               | the row cannot be stored                 | NACK (`invalid`)                          |
 * | the handler                    | the connection broke (ROLLBACK failed),  | wait, run the handler again               |
 * |                                | a serialisation failure or deadlock      |                                           |
 * | the handler                    | anything else it threw                   | NACK (`failed`)                           |
 * | the handler                    | it caught a failed statement, returned   | NACK (`failed`); COMMIT would roll back   |
 * | the handler, past its timeout  | —                                        | NACK (`timeout`), close the connection    |
 * | the handler's own save()       | E_DUPLICATE (a save in a savepoint)      | ACK once a committed row is confirmed     |
 * | COMMIT                         | an outage: the outcome is unknown        | look for the inbox row: ACK, or run again |
 * | COMMIT                         | a deferred constraint (the handler's)    | NACK (`failed`)                           |
 *
 * With another message waiting for a slot, the COMMIT carries that message's BEGIN and inbox insert, and the
 * connection goes on to it (chain.ts): a COMMIT that fails ran nothing of it, and it is given back to the queue.
 *
 * While it waits, the message keeps its prefetch slot: a database outage pauses consumption instead of
 * dead-lettering what arrives. It is never dead-lettered for an outage.
 */
import { describeDbError, sqlState } from '../db/errors.js';
import { runTransaction, type ChainLink, type TransactionState } from '../db/transaction.js';
import { withCorrelationId } from '../publish/correlation.js';
import { databaseRetry } from '../util/retry.js';
import { sleep } from '../util/sleep.js';
import { TIMED_OUT, within } from '../util/within.js';
import type { Start, Successor, Successors } from './chain.js';
import { classifyDbFailure, deadlineExceeded, setupFailure } from './db-failure.js';
import {
  alreadyRecorded, confirmDuplicate, handlerSignal, outlive, readInbox, settle, startHandler, timeoutMs,
  type Delivery, type DeliveryContext, type HandlerResult, type Report,
} from './delivery.js';
import { GAVE_UP, STATEMENT_DEADLINE_MS } from './inbox-read.js';
import { createPayload, type PayloadInit, type PayloadState } from './payload.js';

export async function inConsumerTransaction(ctx: DeliveryContext, delivery: Delivery, init: PayloadInit, report: Report, start: Start): Promise<void> {
  const policy = databaseRetry(ctx.maxBackoff);
  for (let failures = 0; ; failures++) {
    // Only the first attempt runs in a transaction opened for it (chain.ts); any other checks one out.
    const attempt = await attemptOnce(ctx, delivery, init, report, failures === 0 ? start : { successors: start.successors });
    if (attempt === DONE) {
      ctx.transactions.recovered();
      return;
    }
    const seconds = policy.delay(failures);
    ctx.transactions.failed(attempt.outage, seconds);
    if (!(await sleep(seconds * 1000, delivery.abandoned))) return report('abandoned');
  }
}

const DONE = Symbol('done');
type Attempt = typeof DONE | { outage: unknown };

/** Thrown inside the transaction to roll it back for a reason already handled. */
const TIMED_OUT_ROLLBACK = Symbol('handler timed out');
const NACKED_ROLLBACK = Symbol('handler nacked');
const RECORDED_ROLLBACK = Symbol('already recorded');
const ABORTED_ROLLBACK = Symbol('transaction aborted under the handler');

type Stage = 'begin' | 'claim' | 'handler' | 'commit';

async function attemptOnce(ctx: DeliveryContext, delivery: Delivery, init: PayloadInit, report: Report, start: Start): Promise<Attempt> {
  const id = init.messageId;
  // A payload per attempt: nothing the handler did in a rolled-back attempt carries over.
  const { payload, state, recordedIn } = createPayload(init, ctx.inbox);
  const cut = new AbortController();
  const gaveUp = new AbortController();
  const signal = handlerSignal(gaveUp.signal, delivery);
  let stage: Stage = 'begin';
  let running: Promise<HandlerResult> | undefined;
  let rollbackFailed: { error: unknown } | undefined;
  let next: { successor: Successor; link: ChainLink } | undefined;
  // The consumer's own statements have a deadline (BEGIN and the inbox insert here, COMMIT below), enforced
  // by closing the connection; the handler's time in between is consumer.handlerTimeout's.
  const expire = (what: string) => setTimeout(() => cut.abort(deadlineExceeded(what, STATEMENT_DEADLINE_MS)), STATEMENT_DEADLINE_MS);
  let deadline: NodeJS.Timeout | undefined = expire('open a transaction and record the message');
  try {
    await runTransaction(
      ctx.db,
      async (tx, transaction) => {
        stage = 'claim';
        const claimed = await ctx.inbox.claimReceived(tx, init, transaction.prepared);
        clearTimeout(deadline);
        if (!claimed) throw RECORDED_ROLLBACK;
        recordedIn(tx);
        stage = 'handler';
        running = startHandler(() => withCorrelationId(payload.correlationId, () => ctx.handler(payload, { tx, get signal() { return signal(); } })));
        const result = await within(running, { ms: timeoutMs(ctx) });
        if (result === TIMED_OUT) {
          // NACK now, not once the rollback is through: a hung handler's statement may hold the connection.
          ctx.logger.warn(
            `handler ran past ${ctx.handlerTimeout} s on message ${id}: nacking it to ${ctx.deadLetterQueue}; ` +
              'its transaction is closed, and it keeps its slot until it returns',
          );
          report(settle(ctx, delivery, 'nack', 'timeout', state));
          gaveUp.abort();
          cut.abort();
          throw TIMED_OUT_ROLLBACK;
        }
        if (result.kind === 'threw') throw result.error;
        if (state.nacked) throw NACKED_ROLLBACK;
        stage = 'commit';
        deadline = expire('commit');
        // A failed statement the handler caught: COMMIT would answer ROLLBACK, which reads as success.
        if (await transaction.aborted()) throw ABORTED_ROLLBACK;
        next = chainNext(ctx, transaction, start.successors);
      },
      { signal: cut.signal, onRollbackFailed: (error) => (rollbackFailed = { error }), adopt: start.chained?.open },
    );
  } catch (error) {
    clearTimeout(deadline);
    if (next) start.successors!.giveBack(next.successor);
    if (error === TIMED_OUT_ROLLBACK) {
      await outlive(ctx, running!, id);
      return DONE;
    }
    // A deadline closed the connection: say that, rather than what closing it made the driver throw.
    const cause = cut.signal.aborted && !gaveUp.signal.aborted ? cut.signal.reason : error;
    return failed(ctx, delivery, { id, state, stage, error: cause, rollbackFailed, report });
  }
  clearTimeout(deadline);
  try {
    report(settle(ctx, delivery, 'ack', 'acked', state));
  } finally {
    // Whatever reporting did: the connection is inside the next message's transaction, its lane held.
    if (next) {
      const open = next.link.open;
      if (open) start.successors!.start(next.successor, open);
      else start.successors!.giveBack(next.successor);
    }
  }
  return DONE;
}

/** Arms the COMMIT to open the next waiting message's transaction and make its claim (chain.ts), if one waits. */
function chainNext(ctx: DeliveryContext, transaction: TransactionState, successors: Successors | undefined) {
  if (!successors || !transaction.chain) return undefined;
  const successor = successors.take();
  if (!successor) return undefined;
  const { statement, values } = ctx.inbox.claimOf(successor.checked.init);
  const link = transaction.chain(statement, values);
  if (link) return { successor, link };
  successors.giveBack(successor);
  return undefined;
}

interface Failure {
  id: string;
  state: PayloadState;
  stage: Stage;
  error: unknown;
  rollbackFailed: { error: unknown } | undefined;
  report: Report;
}

async function failed(ctx: DeliveryContext, delivery: Delivery, f: Failure): Promise<Attempt> {
  const { logger, deadLetterQueue: dlq } = ctx;
  const { id, state, error, report } = f;
  if (error === RECORDED_ROLLBACK) {
    report(alreadyRecorded(ctx, delivery, id));
    return DONE;
  }
  if (error === ABORTED_ROLLBACK) {
    logger.error(`message ${id}: the handler caught a failed statement and returned, but the failure aborted its transaction; dead-lettering it to ${dlq}`);
    report(settle(ctx, delivery, 'nack', 'failed', state));
    return DONE;
  }
  if (error === NACKED_ROLLBACK) {
    logger.info(`handler nacked message ${id}: its transaction rolled back; dead-lettering it to ${dlq}`);
    report(settle(ctx, delivery, 'nack', 'nacked', state));
    return DONE;
  }
  // Whoever's save() it was, the handler's or ours: ACK only what a committed row holds.
  if (state.duplicate && f.stage !== 'commit') {
    report(await confirmDuplicate(ctx, delivery, id, state));
    return DONE;
  }
  const kind = classifyDbFailure(error);
  switch (f.stage) {
    case 'begin':
      if (kind === 'setup') throw setupFailure('open a transaction', error);
      // Nothing of the message's has run yet: whatever stops a transaction from starting is the database's.
      return { outage: error };
    case 'handler': {
      // The connection broke under the handler (the ROLLBACK could not be sent either), or PostgreSQL chose
      // it as the victim of a deadlock or a serialisation conflict: the transaction, not the message, failed.
      if (f.rollbackFailed) return { outage: f.rollbackFailed.error };
      if (/^40/.test(sqlState(error) ?? '')) return { outage: error };
      const e = error as Error;
      logger.error(`handler threw on message ${id}: ${e?.message ?? String(error)}; its transaction rolled back; dead-lettering it to ${dlq}`, error);
      report(settle(ctx, delivery, 'nack', 'failed', state));
      return DONE;
    }
    case 'claim':
      if (kind === 'outage') return { outage: error };
      if (kind === 'setup') throw setupFailure('record the message in the inbox', error);
      logger.error(`message ${id} cannot be recorded in the inbox (${describeDbError(error)}); dead-lettering it to ${dlq} without running the handler`);
      report(settle(ctx, delivery, 'nack', 'invalid', state));
      return DONE;
    case 'commit': {
      if (kind !== 'outage') {
        logger.error(`the transaction of message ${id} could not commit (${describeDbError(error)}); dead-lettering it to ${dlq}`);
        report(settle(ctx, delivery, 'nack', 'failed', state));
        return DONE;
      }
      // The COMMIT may or may not have reached the database: its inbox row says which.
      const committed = await readInbox(ctx, delivery, 'check whether a commit whose answer was lost went through', () => ctx.lookup.committed(id));
      if (committed === GAVE_UP) {
        report('abandoned');
        return DONE;
      }
      if (committed === true) {
        logger.warn(`message ${id}: no answer to its COMMIT (${describeDbError(error)}), but its inbox row is committed: acking it`);
        report(settle(ctx, delivery, 'ack', 'acked', state));
        return DONE;
      }
      if (committed === false) return { outage: error };
      logger.error(`message ${id}: its commit's answer was lost and the check for its inbox row failed (${committed.problem}); dead-lettering it to ${dlq}`);
      report(settle(ctx, delivery, 'nack', 'failed', state));
      return DONE;
    }
  }
}

/**
 * A stand-in for one checked-out node-postgres client, handed to drizzle, that holds drizzle's BEGIN back
 * until the transaction's first statement. When that statement is one already prepared on the connection,
 * the two travel as one simple query, `BEGIN; EXECUTE name(…)`: one round trip where there were two. Any
 * other first statement goes after a BEGIN of its own, as drizzle would have sent it; a transaction that
 * ran no statement sends neither BEGIN nor its COMMIT or ROLLBACK.
 *
 * The held BEGIN is sent before anything else that could run outside the transaction: nothing is ever sent
 * ahead of it, statements issued while it is on its way go in the order they were issued, and a BEGIN that
 * failed is never followed by the statements it held back. Where the server and node-postgres turn out to
 * disagree about a prepared statement (a pooler in transaction mode between them), the connection goes back
 * to sending its statements whole.
 *
 * A transaction's COMMIT can also carry the next transaction's BEGIN and first statement (`chain`,
 * chained-commit.ts); the connection then goes on inside that transaction, whose BEGIN from drizzle is
 * swallowed and whose first statement finds its rows already on their way.
 */
import { escapeLiteral, type PoolClient, type QueryResult } from 'pg';
import { sendChained } from './chained-commit.js';
import { sqlState } from './errors.js';
import type { PreparedStatement } from './prepared.js';

/** drizzle-orm's node-postgres session sends these texts for a transaction's start and end. */
const BEGIN = 'begin';
const ENDS = new Set(['commit', 'rollback']);

type QueryArgs = Parameters<PoolClient['query']>;

export interface DeferredBeginClient {
  /** What drizzle is given as its client: queries, with BEGIN held back. */
  readonly client: { query(...args: QueryArgs): Promise<unknown> };
  /** Runs a prepared statement: with the held BEGIN in one round trip once the connection knows it. */
  prepared(statement: PreparedStatement, values: unknown[]): Promise<Array<Record<string, unknown>>>;
  /**
   * Makes this transaction's COMMIT carry the next transaction's BEGIN and first statement, a prepared one:
   * `COMMIT; BEGIN; EXECUTE name(…)`, one round trip where there were two. False (nothing changes) when that
   * cannot be done: nothing ran in this transaction yet, the connection does not know the statement, names
   * no statements (a pooler), pipelines or is pg-native, or a value cannot be written as a literal. If the
   * COMMIT then fails, nothing of the next transaction stays (PostgreSQL skipped it, or it went with the
   * connection). If it succeeds, the connection is left in the next transaction (`opened`): drizzle's BEGIN
   * for it is swallowed, and its first call of `prepared` with this statement gets the rows already on their way.
   */
  chain(statement: PreparedStatement, values: unknown[]): boolean;
  /** The last COMMIT opened the next transaction: the connection is in it, and must not go back to the pool. */
  readonly opened: boolean;
}

export function deferBegin(real: PoolClient): DeferredBeginClient {
  let held = false;
  // The BEGIN on its way, once sent: every statement issued before its answer waits for it, and they then go
  // in the order they were issued (a promise's reactions run in the order they were added). A BEGIN that
  // failed fails them all, unsent.
  let opening: Promise<unknown> | undefined;
  // The statements this connection has prepared (under node-postgres's own bookkeeping, which sends Parse
  // only the first time): EXECUTE needs the statement to exist on the server already.
  const known = new Set<string>();
  // The next transaction's start, to send with this one's COMMIT (chain).
  let armed: { name: string; text: string } | undefined;
  // Sent with the last COMMIT, which went through: the next transaction's BEGIN is in, and the rows of its
  // first statement are on their way.
  let started: { name: string; rows: Promise<Array<Record<string, unknown>>> } | undefined;
  let begun = false;

  /** Statements issued from now wait for `until` (see `opening`). */
  const holdUntil = (until: Promise<unknown>): void => {
    opening = until;
    const settled = (): void => {
      if (opening === until) opening = undefined;
    };
    until.then(settled, settled);
  };

  /** Sends the held BEGIN if there is one, and `send` once BEGIN has answered. */
  const afterBegin = async <T>(send: () => Promise<T>): Promise<T> => {
    if (held) {
      held = false;
      holdUntil(real.query(BEGIN));
    }
    if (opening) await opening;
    return send();
  };

  const send = (args: QueryArgs): Promise<unknown> => (real.query as (...a: QueryArgs) => Promise<unknown>)(...args);
  const client = {
    query(...args: QueryArgs): Promise<unknown> {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      if (text === BEGIN) {
        // Already sent with the COMMIT before it, or held for the first statement.
        if (begun) begun = false;
        else held = true;
        return Promise.resolve(EMPTY);
      }
      if (held && text !== undefined && ENDS.has(text)) {
        held = false;
        return Promise.resolve(EMPTY);
      }
      if (text !== undefined && ENDS.has(text)) {
        // What was started with the COMMIT before belongs to this transaction only.
        started = undefined;
        if (text === 'commit' && armed) return commitChained(armed);
        armed = undefined;
      }
      // Inside a transaction already under way (the handler's statements): straight through.
      if (!held && !opening) return send(args);
      return afterBegin(() => send(args));
    },
  };

  /** Sends COMMIT with the next transaction's start; resolves with the COMMIT's own answer. */
  const commitChained = async (next: { name: string; text: string }): Promise<unknown> => {
    armed = undefined;
    const chained = sendChained(real, next.text);
    // Until the whole query is answered, anything else waits (a statement that is not the one chained), and
    // is sent whatever the next statement's outcome: a ROLLBACK must go.
    holdUntil(chained.rows.then(() => {}, () => {}));
    await chained.committed;
    started = { name: next.name, rows: chained.rows };
    begun = true;
    return EMPTY;
  };

  // Cleared for good on this connection when the server and node-postgres disagreed about a statement (the
  // server lacked one node-postgres had prepared, or had one it had not): a pooler between them (PgBouncer
  // in transaction mode) hands each transaction another server connection. Its statements are then sent
  // whole, parsed and planned every time, as any other.
  let named = true;

  // The chained COMMIT is a custom query object, which node-postgres's JavaScript client runs one at a time:
  // its pipeline mode refuses such objects, and pg-native has no protocol messages to hand them.
  const chainable = (real as { pipeline?: boolean }).pipeline !== true && 'connection' in real;

  const literalsOf = (values: unknown[]): string => values.map((v) => (v === null ? 'null' : escapeLiteral(v as string))).join(', ');

  const api: DeferredBeginClient = {
    client,
    get opened() {
      return begun;
    },
    chain(statement, values) {
      if (!chainable || !named || held || !known.has(statement.name) || !values.every(inlinable)) return false;
      // PostgreSQL answers the whole query string at its end: the COMMIT's answer waits for the statement
      // after it. So that statement may wait on a lock for CHAINED_LOCK_WAIT at most; then it is sent again
      // on its own (prepared, below), to wait as long as it must. The setting goes back to the connection's
      // default after it, which drops a session-level SET a handler may have made on this pooled connection.
      armed = {
        name: statement.name,
        text: `commit; begin; set local lock_timeout = '${CHAINED_LOCK_WAIT}'; execute ${statement.name}(${literalsOf(values)}); set local lock_timeout to default`,
      };
      return true;
    },
    async prepared(statement, values) {
      const whole = async () => (await real.query({ text: statement.text, values })).rows;
      if (started?.name === statement.name) {
        const { rows } = started;
        started = undefined;
        return rows.catch(async (error: unknown) => {
          if (sqlState(error) !== LOCK_NOT_AVAILABLE) return startOver(error, whole);
          await real.query('rollback');
          held = true;
          return api.prepared(statement, values);
        });
      }
      if (!named) return afterBegin(whole);
      // Nothing has run in the transaction yet: if the server and node-postgres turn out to disagree about
      // the statement, the transaction can end and start again with the statement sent whole.
      const first = held;
      try {
        if (held && known.has(statement.name) && values.every(inlinable)) {
          held = false;
          const results = (await real.query(`begin; execute ${statement.name}(${literalsOf(values)})`)) as unknown as QueryResult[];
          return results[1]!.rows;
        }
        const result = await afterBegin(() => real.query({ name: statement.name, text: statement.text, values }));
        known.add(statement.name);
        return result.rows;
      } catch (error) {
        if (!first) throw error;
        return startOver(error, whole);
      }
    },
  };
  return api;

  /**
   * The transaction's first statement failed. If it failed because the server and node-postgres disagree
   * about the prepared statement, the transaction starts again with the statement sent whole; else the error
   * stands.
   */
  async function startOver(error: unknown, whole: () => Promise<Array<Record<string, unknown>>>): Promise<Array<Record<string, unknown>>> {
    if (!POOLED_AWAY.has(sqlState(error) ?? '')) throw error;
    named = false;
    await real.query('rollback');
    await real.query(BEGIN);
    return whole();
  }
}

/** How long the first statement sent with a COMMIT may wait on a lock before it goes again on its own. */
const CHAINED_LOCK_WAIT = '50ms';
/** lock_not_available: what PostgreSQL says when lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * What a server connection says when it is not the one node-postgres prepared the statement on: it does not
 * have it (26000, invalid_sql_statement_name), or it has one of that name from another client connection
 * (42P05, duplicate_prepared_statement).
 */
const POOLED_AWAY = new Set(['26000', '42P05']);

/**
 * Values that can be written into a simple query: text or null. A NUL character cannot travel in one (the
 * query text ends at it): such a value goes as a parameter, and PostgreSQL refuses it there as it would.
 */
const inlinable = (v: unknown): boolean => v === null || (typeof v === 'string' && !v.includes('\0'));

/** What a statement that was not sent answers: drizzle reads nothing of it. */
const EMPTY = { rows: [], rowCount: 0, fields: [], command: '', oid: 0 };

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
 */
import { escapeLiteral, type PoolClient, type QueryResult } from 'pg';
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

  /** Sends the held BEGIN if there is one, and `send` once BEGIN has answered. */
  const afterBegin = async <T>(send: () => Promise<T>): Promise<T> => {
    if (held) {
      held = false;
      const begin = real.query(BEGIN);
      opening = begin;
      const settled = (): void => {
        if (opening === begin) opening = undefined;
      };
      begin.then(settled, settled);
    }
    if (opening) await opening;
    return send();
  };

  const send = (args: QueryArgs): Promise<unknown> => (real.query as (...a: QueryArgs) => Promise<unknown>)(...args);
  const client = {
    query(...args: QueryArgs): Promise<unknown> {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      if (text === BEGIN) {
        held = true;
        return Promise.resolve(EMPTY);
      }
      if (held && text !== undefined && ENDS.has(text)) {
        held = false;
        return Promise.resolve(EMPTY);
      }
      // Inside a transaction already under way (the handler's statements): straight through.
      if (!held && !opening) return send(args);
      return afterBegin(() => send(args));
    },
  };

  // Cleared for good on this connection when the server and node-postgres disagreed about a statement (the
  // server lacked one node-postgres had prepared, or had one it had not): a pooler between them (PgBouncer
  // in transaction mode) hands each transaction another server connection. Its statements are then sent
  // whole, parsed and planned every time, as any other.
  let named = true;

  return {
    client,
    async prepared(statement, values) {
      const whole = async () => (await real.query({ text: statement.text, values })).rows;
      if (!named) return afterBegin(whole);
      // Nothing has run in the transaction yet: if the server and node-postgres turn out to disagree about
      // the statement, the transaction can end and start again with the statement sent whole.
      const first = held;
      try {
        if (held && known.has(statement.name) && values.every(inlinable)) {
          held = false;
          const literals = values.map((v) => (v === null ? 'null' : escapeLiteral(v as string))).join(', ');
          const results = (await real.query(`begin; execute ${statement.name}(${literals})`)) as unknown as QueryResult[];
          return results[1]!.rows;
        }
        const result = await afterBegin(() => real.query({ name: statement.name, text: statement.text, values }));
        known.add(statement.name);
        return result.rows;
      } catch (error) {
        if (!first || !POOLED_AWAY.has(sqlState(error) ?? '')) throw error;
        named = false;
        await real.query('rollback');
        await real.query(BEGIN);
        return whole();
      }
    },
  };
}

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

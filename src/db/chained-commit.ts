/**
 * One simple query that ends a transaction and opens the next on the same connection:
 * `COMMIT; BEGIN; EXECUTE name(…)`. PostgreSQL answers each statement in turn, and the answers tell the
 * parts apart: a failure is the COMMIT's when it comes before the COMMIT's answer, and then nothing after it
 * stays (PostgreSQL skips the rest of a query string after an error; a lost connection takes the rest with
 * it); after it, the failure is the next transaction's. PostgreSQL sends a query string's answers together
 * at its end, so the COMMIT's is known only once the rest is through: the caller keeps what follows the
 * COMMIT short (deferred-begin.ts bounds its lock waits).
 *
 * A node-postgres "submittable" (the interface pg-cursor uses): the client hands it each message of the
 * query's answer.
 */
import type { PoolClient } from 'pg';

export interface ChainedCommit {
  /** Resolves once the COMMIT's answer is in; rejects with its error (then nothing after it stays). */
  committed: Promise<void>;
  /** The rows of the last statement that returns rows, once the whole query is through; rejects with any part's error. */
  rows: Promise<Array<Record<string, unknown>>>;
}

/** `text` is the whole query: first the COMMIT; the rows wanted are those of its last statement that returns rows. */
export function sendChained(client: PoolClient, text: string): ChainedCommit {
  let commit!: { resolve(): void; reject(error: unknown): void };
  let last!: { resolve(rows: Array<Record<string, unknown>>): void; reject(error: unknown): void };
  const committed = new Promise<void>((resolve, reject) => (commit = { resolve, reject }));
  const rows = new Promise<Array<Record<string, unknown>>>((resolve, reject) => (last = { resolve, reject }));
  // Whoever awaits a part sees its failure; a part nobody asks for (the next transaction's, when the COMMIT
  // failed) must not be an unhandled rejection.
  rows.catch(() => {});
  (client.query as (q: unknown) => unknown)(new Chained(text, commit, last));
  return { committed, rows };
}

interface Field {
  name: string;
}

class Chained {
  /** Set by node-postgres when the client has a `query_timeout`: told the end, to clear its timer. */
  callback?: (error: Error | null) => void;
  private answered = 0;
  private fields: string[] = [];
  private result: Array<Record<string, unknown>> = [];

  constructor(
    private readonly text: string,
    private readonly commit: { resolve(): void; reject(error: unknown): void },
    private readonly last: { resolve(rows: Array<Record<string, unknown>>): void; reject(error: unknown): void },
  ) {}

  submit(connection: { query(text: string): void }): null {
    connection.query(this.text);
    return null;
  }

  handleRowDescription(msg: { fields: Field[] }): void {
    this.fields = msg.fields.map((f) => f.name);
    this.result = [];
  }

  /** Values as text: the wanted statement's rows are only counted or read as text. */
  handleDataRow(msg: { fields: Array<string | null> }): void {
    const row: Record<string, unknown> = {};
    msg.fields.forEach((value, i) => (row[this.fields[i] ?? String(i)] = value));
    this.result.push(row);
  }

  handleCommandComplete(msg: { text: string }): void {
    if (++this.answered > 1) return;
    // A transaction a failed statement had aborted answers COMMIT with ROLLBACK, not an error. What followed
    // it then ran, in a transaction of its own, which the caller's ROLLBACK ends.
    if (msg.text === 'ROLLBACK') this.commit.reject(new Error('COMMIT rolled the transaction back: a statement in it had failed'));
    else this.commit.resolve();
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('not expected in a chained commit');
  }

  handleCopyData(): void {}

  handleError(error: unknown): void {
    if (this.answered === 0) this.commit.reject(error);
    this.last.reject(error);
    this.callback?.(error as Error);
  }

  handleReadyForQuery(): void {
    this.last.resolve(this.result);
    this.callback?.(null);
  }
}

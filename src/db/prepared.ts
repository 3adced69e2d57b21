/**
 * A statement run on every transaction, prepared once per connection: PostgreSQL parses and plans it once
 * instead of at every call (TransactionState.prepared in transaction.ts).
 *
 * @example
 * const claim = preparedStatement('insert into inbox (id) values ($1) on conflict do nothing returning 1');
 */
import { createHash } from 'node:crypto';

/** A statement text with `$n` parameters, and the name a connection keeps it prepared under. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * Names `text` after its own hash: one text, one name, whichever table or schema it was built for (a name
 * prepared on a connection with another text would be refused). A plain identifier, so that `EXECUTE`
 * can name it too.
 */
export function preparedStatement(text: string): PreparedStatement {
  return { name: `outbox_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
}

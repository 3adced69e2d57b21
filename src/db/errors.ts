/**
 * Database errors: as a person should read them, and sorted by what to do about them. Drizzle wraps driver
 * errors as "Failed query: <sql> params: …", which buries the reason; the driver's own error (the `cause`)
 * says it in one line and carries the SQLSTATE.
 *
 * | kind          | examples                                         | what callers do                         |
 * |---------------|--------------------------------------------------|-----------------------------------------|
 * | connection    | SQLSTATE 08*, 57P01–03, 53300; ECONNREFUSED…     | an outage: retry with backoff           |
 * | per-message   | SQLSTATE 22* (bad data), 23* (constraint)        | the same input fails the same way: stop |
 * | setup         | 3D000 no database, 28* login refused, 42P01/42703 | a configuration mistake: say what to do |
 */

interface DriverError {
  message?: string;
  code?: string;
  cause?: unknown;
}

function root(error: unknown): DriverError {
  let e = error as DriverError | undefined;
  for (let i = 0; i < 5 && e && typeof e === 'object' && e.cause && typeof e.cause === 'object'; i++) e = e.cause as DriverError;
  return e ?? {};
}

/** The SQLSTATE (five characters) of a database error, if it has one. */
export function sqlState(error: unknown): string | undefined {
  const code = root(error).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** One line: the driver's message (and SQLSTATE or errno code when there is one). */
export function describeDbError(error: unknown): string {
  const r = root(error);
  const message = (r.message ?? String(error)).split('\n')[0]!;
  return r.code ? `${message} [${r.code}]` : message;
}

/** SQLSTATE 42P01/42703: the schema is not there (migrations not applied). Not worth retrying. */
export function isSchemaMissing(error: unknown): boolean {
  const code = root(error).code;
  return code === '42P01' || code === '42703';
}

/** SQLSTATE 42501: the role lacks a privilege (e.g. on a table added by a later migration). */
export function isForbidden(error: unknown): boolean {
  return root(error).code === '42501';
}

/** Driver errors (no SQLSTATE) that mean the connection, not the statement, failed. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);
const CONNECTION_MESSAGES = /Connection terminated|not queryable|Connection ended|timeout exceeded when trying to connect|connection (?:is )?closed|socket hang up/i;

/**
 * The connection failed, not the statement: an outage (a restart, a terminated backend, a network cut),
 * worth retrying. SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash, cannot connect
 * now), 53300 (too many connections), and the drivers' own errno-style codes.
 */
export function isConnectionError(error: unknown): boolean {
  const r = root(error);
  const code = r.code ?? '';
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  if (CONNECTION_CODES.has(code)) return true;
  return !sqlState(error) && CONNECTION_MESSAGES.test(r.message ?? '');
}

/**
 * The statement failed because of its data: SQLSTATE class 22 (data exception: NUL in text, an invalid byte
 * sequence, a value out of range) or 23 (integrity constraint). Retrying the same input fails the same way.
 */
export function isDataError(error: unknown): boolean {
  return /^2[23]/.test(sqlState(error) ?? '');
}

/**
 * Configuration mistakes the database reports at the first connection: the database does not exist
 * (3D000), the login is refused (class 28), the outbox tables are missing (42P01/42703). Waiting fixes none.
 */
export function isSetupError(error: unknown): boolean {
  const code = sqlState(error) ?? '';
  return code === '3D000' || /^28/.test(code) || isSchemaMissing(error);
}

/** What went wrong with the database, for a person, in one line. */
export interface DatabaseProblem {
  message: string;
  /** No such database, or the login was refused: waiting fixes nothing, the settings do (E_CONFIG in the CLI, exit 2). */
  setup: boolean;
}

interface NetError extends DriverError {
  address?: string;
  port?: number;
  hostname?: string;
  errors?: NetError[];
}

/**
 * The line a command prints when its database work failed: the cause in the driver's own words, said
 * plainly for the usual mistakes — `connection refused to 127.0.0.1:5999`, `database "x" does not exist`,
 * `the outbox tables are missing: run outbox migrate` — never drizzle's "Failed query: <the SQL> params:".
 */
export function explainDbError(error: unknown): DatabaseProblem {
  let r = root(error) as NetError;
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (Array.isArray(r.errors) && r.errors.length > 0 && !r.message) r = r.errors[r.errors.length - 1]!;
  const code = r.code ?? '';
  const at = r.address ? `${r.address}${r.port ? `:${r.port}` : ''}` : undefined;
  if (code === 'ECONNREFUSED') return { message: `connection refused to ${at ?? 'the database'}`, setup: false };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { message: `cannot resolve the database host ${r.hostname ?? at ?? ''}`.trim(), setup: false };
  if (code === 'ETIMEDOUT' || code === 'CONNECT_TIMEOUT' || (!sqlState(error) && /timeout/i.test(r.message ?? ''))) {
    return { message: `no answer from the database${at ? ` at ${at}` : ''} (${describeDbError(error)})`, setup: false };
  }
  if (code === '42P01') return { message: `the outbox tables are missing: run outbox migrate (${describeDbError(error)})`, setup: false };
  if (code === '42703') return { message: `the outbox tables are outdated: run outbox migrate (${describeDbError(error)})`, setup: false };
  if (code === '3D000' || /^28/.test(code)) return { message: `${describeDbError(error)}: check DATABASE_URL or database.url`, setup: true };
  return { message: describeDbError(error), setup: false };
}

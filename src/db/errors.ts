/**
 * Database errors as a person should read them. Drizzle wraps driver errors as "Failed query: <sql>
 * params: …", which buries the reason; the driver's own error (the `cause`) says it in one line.
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

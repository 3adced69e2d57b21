import { OutboxError } from '../errors.js';

/**
 * Turns a message body into the plain JSON value that is stored in the outbox's `body jsonb` and sent.
 * The rules, so that a body is never silently different from what the code produced:
 *
 * - `Date` → ISO-8601 string (an invalid date is an error);
 * - `bigint` → decimal string (Drizzle already gives `numeric` columns as strings);
 * - `Buffer` / `Uint8Array` → base64 string;
 * - an object with `toJSON()` (Decimal, Luxon, …) → its `toJSON()` result, converted by these rules;
 * - `undefined` object properties are left out, as JSON does;
 * - anything else that JSON cannot carry is an `E_NOT_JSON` error naming the path: functions, symbols,
 *   `undefined` in an array or as the whole body, `NaN`/`±Infinity`, cycles, `Map`/`Set`/`RegExp`/`Error`
 *   and other built-ins that `JSON.stringify` would turn into `{}`, and strings containing U+0000
 *   (Postgres `jsonb` cannot store it).
 *
 * Thrown inside the caller's transaction, the error rolls the business rows back with the event.
 */
export function toJsonBody(value: unknown, context?: string): unknown {
  return convert(value, 'body', [], context);
}

function convert(value: unknown, path: string, ancestors: object[], context: string | undefined): unknown {
  switch (typeof value) {
    case 'string':
      if (value.includes('\u0000')) fail(context, path, 'a string containing U+0000 (Postgres jsonb cannot store it)');
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail(context, path, `${value} (JSON has no NaN or Infinity)`);
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return fail(context, path, 'undefined');
    case 'function':
      return fail(context, path, 'a function');
    case 'symbol':
      return fail(context, path, 'a symbol');
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) {
    if (Number.isNaN(object.getTime())) fail(context, path, 'an invalid Date');
    return object.toISOString();
  }
  if (object instanceof Uint8Array) return Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
  if (ancestors.includes(object)) fail(context, path, 'a reference to one of its own ancestors (a cycle)');
  ancestors.push(object);
  try {
    if (Array.isArray(object)) return object.map((item, i) => convert(item, `${path}[${i}]`, ancestors, context));
    if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      return convert((object as { toJSON(key: string): unknown }).toJSON(''), path, ancestors, context);
    }
    const lossy = lossyKind(object);
    if (lossy) fail(context, path, `a ${lossy} (JSON would turn it into {} or lose its content)`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      const item = (object as Record<string, unknown>)[key];
      if (item === undefined) continue;
      out[key] = convert(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, ancestors, context);
    }
    return out;
  } finally {
    ancestors.pop();
  }
}

/** Built-ins whose content `JSON.stringify` drops without a word. */
function lossyKind(object: object): string | undefined {
  if (object instanceof Map) return 'Map';
  if (object instanceof Set) return 'Set';
  if (object instanceof WeakMap || object instanceof WeakSet) return 'WeakMap/WeakSet';
  if (object instanceof RegExp) return 'RegExp';
  if (object instanceof Error) return 'Error';
  if (object instanceof Promise) return 'Promise';
  if (object instanceof ArrayBuffer || ArrayBuffer.isView(object)) return object.constructor.name;
  return undefined;
}

function fail(context: string | undefined, path: string, what: string): never {
  throw new OutboxError('E_NOT_JSON', `${path} is ${what}: it cannot be sent as JSON${context ? ` (${context})` : ''}`);
}

/** The body as sent: the stored (jsonb) value serialised back to JSON text. */
export function sendBody(body: unknown): string {
  return JSON.stringify(body === undefined ? null : body);
}

/**
 * The body as a handler sees it: parsed JSON, or the UTF-8 text itself when it is not JSON
 * (the caller logs that; a message is never dropped for its body).
 */
export function decodeBody(body: Buffer): { value: unknown; json: boolean } {
  const text = body.toString('utf8');
  try {
    return { value: JSON.parse(text), json: true };
  } catch {
    return { value: text, json: false };
  }
}

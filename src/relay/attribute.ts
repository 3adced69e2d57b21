/**
 * Who is to blame when sends fail together. On an ERROR frame or a closed socket the STOMP client fails
 * every pending receipt at once, and RabbitMQ's ERROR frames carry no `receipt-id` (ActiveMQ's do, but the
 * session ends on any ERROR all the same): the relay decides which of the failed rows caused it from the
 * names in the ERROR's text. Pure, so it is tested on its own.
 */
import { isOutboxError, type OutboxErrorCode } from '../errors.js';
import { namesInError, namesOfDestination, rabbitmq } from '../transport/brokers.js';

export interface FailedSend<R extends { seq: number; destination: string } = { seq: number; destination: string }> {
  row: R;
  error: unknown;
}

export interface Verdict<R> {
  /**
   * The row's own fault: a failed attempt with backoff (or `failed` at maxAttempts). `refused`: the broker
   * refused the row's destination (an ERROR), so the relay holds that destination's other rows for a while.
   */
  blame: Array<{ row: R; message: string; refused?: boolean }>;
  /** The connection failed under the row (disconnect, heart-beat loss): also a failed attempt (README "When things fail"). */
  retry: Array<{ row: R; message: string }>;
  /** Bystanders of another row's broker ERROR: due again at once, attempt refunded. */
  release: Array<{ row: R; message: string }>;
  /**
   * In flight when the broker refused something without saying what: released like bystanders (nobody is
   * charged for what the broker did not name), and their destinations are probed one by one before more
   * of their rows go out beside others — on a connection of its own a refusal names itself.
   */
  suspect: Array<{ row: R; message: string }>;
}

/**
 * Errors that belong to one SEND rather than to the connection: it could not be encoded, so it was never
 * written. (A receipt timeout is not one of them: confirms come in order, so the connection is what failed.)
 */
const PER_SEND: OutboxErrorCode[] = ['E_INVALID_FRAME', 'E_FRAME_TOO_LARGE', 'E_NOT_JSON'];

/**
 * ERRORs about the connection itself, not about any SEND: an operator's `rabbitmqctl close_connection`,
 * a node shutting down ("AMQP channel died — {shutdown, {connection_closing, {server_initiated_close, 320, …"}).
 */
export const CONNECTION_LEVEL = /connection_closing|server_initiated_close|CONNECTION_FORCED|broker forced connection closure/i;

/** RabbitMQ's names in an ERROR: `queue 'x'`, `exchange 'x'` (the table entry's rule; ActiveMQ's is beside it). */
export function namesInBrokerError(message: string): Set<string> {
  return new Set(rabbitmq.errorNames(message));
}

/** The names RabbitMQ's ERRORs would give a SEND to `destination` (none for a `/topic/`). */
export function destinationNames(destination: string): string[] {
  return rabbitmq.destinationNames(destination);
}

/**
 * The broker's own words in an E_BROKER_ERROR message, for one log line: each ERROR's text without our
 * client's `<host> sent ERROR:` and without RabbitMQ's lowercase tag before the dash
 * (`precondition_failed — PRECONDITION_FAILED - inequivalent arg …` → `PRECONDITION_FAILED - inequivalent arg …`),
 * leaving out the generic `Processing error` RabbitMQ may send before the ERROR that names the culprit.
 */
export function brokerWords(message: string): string {
  const marker = 'sent ERROR: ';
  const at = message.indexOf(marker);
  if (at < 0) return message;
  const words = message
    .slice(at + marker.length)
    .split(' · then ERROR: ')
    .map((text) => {
      const dash = text.indexOf(' — ');
      return dash >= 0 ? text.slice(dash + 3) : text;
    });
  const specific = words.filter((w) => !/^processing error$/i.test(w.trim()));
  return [...new Set(specific.length ? specific : words)].join(' · ');
}

export function errorMessage(error: unknown): string {
  const e = error as { code?: string; message?: string } | undefined;
  const text = e?.message ?? String(error);
  return e?.code ? `${e.code}: ${text}` : text;
}

/**
 * Sorts failed sends:
 * - a per-SEND error (a frame that cannot be encoded) blames its own row;
 * - a broker ERROR blames the rows whose destination it names (RabbitMQ may send several ERRORs for one
 *   refusal; the session keeps them all in the reason); every other row that failed with it is a bystander,
 *   released with its attempt back;
 * - a broker ERROR that names none of them blames nobody: every row is released as a suspect (see Verdict);
 * - otherwise (the connection dropped or stopped confirming, with no ERROR or with one about the connection
 *   itself) every row gets a failed attempt with backoff.
 */
export function attribute<R extends { seq: number; destination: string }>(failures: FailedSend<R>[]): Verdict<R> {
  const verdict: Verdict<R> = { blame: [], retry: [], release: [], suspect: [] };
  const rest: FailedSend<R>[] = [];
  for (const f of failures) {
    if (isOutboxError(f.error) && PER_SEND.includes(f.error.code)) verdict.blame.push({ row: f.row, message: errorMessage(f.error) });
    else rest.push(f);
  }
  const brokerErrors = rest.filter((f) => isOutboxError(f.error, 'E_BROKER_ERROR') && !CONNECTION_LEVEL.test(errorMessage(f.error)));
  if (brokerErrors.length === 0) {
    for (const f of rest) verdict.retry.push({ row: f.row, message: errorMessage(f.error) });
    return verdict;
  }
  // Each broker spells names its own way (src/transport/brokers.ts); the ERROR is read with every broker's rules.
  const names = new Set<string>();
  for (const f of brokerErrors) for (const n of namesInError(errorMessage(f.error))) names.add(n);
  const culprits = new Set(brokerErrors.filter((f) => namesOfDestination(f.row.destination).some((n) => names.has(n))));
  const cause = errorMessage(brokerErrors[0]!.error);
  if (culprits.size === 0) {
    for (const f of rest) verdict.suspect.push({ row: f.row, message: `released: in flight when the broker refused something it did not name (${cause})` });
    return verdict;
  }
  for (const f of rest) {
    if (culprits.has(f)) verdict.blame.push({ row: f.row, message: errorMessage(f.error), refused: true });
    else verdict.release.push({ row: f.row, message: `released: in flight when another send failed (${cause})` });
  }
  return verdict;
}

import type { OutboxTx } from '../db/types.js';
import { OutboxError } from '../errors.js';
import { destinationProblem, finalDestination, versionProblem } from '../wire/destination.js';
import { assertTransaction, writeOutbox, type OutboxTarget } from './write.js';

/** One event for `publish()`. */
export interface PublishMessage<Body = unknown> {
  /** STOMP destination, e.g. `/topic/orders`. */
  destination: string;
  /** Converted to JSON by the body rules (Date → ISO-8601, bigint → string, bytes → base64). */
  body: Body;
  /** Extra headers, stored and sent as given (strings; `dop-msg-*` and frame headers are reserved). */
  headers?: Record<string, string | undefined>;
  /** Suffix for the destination: `/topic/orders` + `v1` → `/topic/orders.v1`. */
  version?: string;
  /**
   * Ordering key: events of one destination and key are sent, and handled by a consumer, in commit order
   * (README "Ordering"). Omitted: unordered.
   */
  key?: string;
}

/**
 * Writes one event to the outbox inside your transaction, for logic the generated helpers don't
 * cover (django-outbox-pattern's `Published.objects.create`). It commits with the transaction or not at all;
 * the relay sends it after the commit. Returns the event's id (its `dop-msg-id`).
 *
 * This package-level `publish` writes to the default `outbox_published` table without the config's
 * `headers` hook; the `publish` exported by your generated `outbox/index.ts` applies both.
 *
 * @example
 * await db.transaction(async (tx) => {
 *   await tx.update(accounts).set({ frozen: true }).where(eq(accounts.id, id));
 *   await publish(tx, { destination: '/topic/accounts', body: { id, frozen: true }, version: 'v1' });
 * });
 */
export async function publish<Body>(tx: OutboxTx, message: PublishMessage<Body>, target?: OutboxTarget): Promise<string> {
  assertTransaction(tx, 'publish()');
  const destinationError = destinationProblem(message?.destination);
  if (destinationError) throw new OutboxError('E_INVALID_DESTINATION', `publish(): destination ${destinationError}`);
  const versionError = versionProblem(message.version);
  if (versionError) throw new OutboxError('E_INVALID_DESTINATION', `publish(): version ${versionError}`);
  const destination = finalDestination(message.destination, message.version);
  const [id] = await writeOutbox(tx, [{ destination, body: message.body, headers: message.headers, key: message.key }], target);
  return id!;
}

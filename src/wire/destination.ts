/**
 * Destination rules shared by config validation and `publish()`.
 * RabbitMQ's STOMP plugin (and ActiveMQ) understand these prefixes; anything else is refused at SEND,
 * long after the transaction committed, so it is refused here instead.
 */
export const DESTINATION_PREFIXES = ['/topic/', '/queue/', '/amq/queue/', '/exchange/', '/temp-queue/', '/reply-queue/'] as const;

/** A version: letters, digits, `.`, `_`, `-`, starting with a letter or digit (`v1`, `2`, `2024-01`). */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `/topic/orders` + `v1` → `/topic/orders.v1`, as django-outbox-pattern does. */
export function finalDestination(destination: string, version?: string): string {
  return version ? `${destination}.${version}` : destination;
}

/** Why a destination is unusable, or undefined when it is fine. */
export function destinationProblem(destination: unknown): string | undefined {
  if (typeof destination !== 'string' || destination === '') return 'must be a non-empty string such as "/topic/orders"';
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(destination)) return `"${printable(destination)}" contains whitespace or a control character`;
  const prefix = DESTINATION_PREFIXES.find((p) => destination.startsWith(p));
  if (!prefix) return `"${destination}" must start with one of ${DESTINATION_PREFIXES.join(' ')}`;
  if (destination.length === prefix.length) return `"${destination}" has no name after ${prefix}`;
  return undefined;
}

/** Why a version is unusable, or undefined when it is fine (absent is fine). */
export function versionProblem(version: unknown): string | undefined {
  if (version === undefined) return undefined;
  if (typeof version !== 'string' || !VERSION.test(version)) {
    return `${JSON.stringify(version) ?? String(version)} must be letters, digits, ".", "_" or "-" (e.g. "v1")`;
  }
  return undefined;
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

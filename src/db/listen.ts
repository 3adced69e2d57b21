import type { OutboxDb } from './types.js';

/**
 * Subscribes to a Postgres NOTIFY channel on the driver under a Drizzle db, returning an unlisten.
 * A wake-up only: notifications can be missed while the driver reconnects, so callers also poll.
 * Returns undefined when the driver cannot listen (then polling is all there is).
 */
export async function listen(
  db: OutboxDb,
  channel: string,
  onNotify: () => void,
): Promise<(() => Promise<void>) | undefined> {
  const client = (db as unknown as { $client?: { listen?: (...args: unknown[]) => Promise<unknown> } }).$client;
  if (typeof client?.listen !== 'function') return undefined;
  const handle = await client.listen(channel, () => onNotify());
  // postgres.js answers { unlisten }, PGlite an unsubscribe function.
  if (typeof handle === 'function') return async () => void (await (handle as () => Promise<void>)());
  const unlisten = (handle as { unlisten?: () => Promise<void> } | undefined)?.unlisten;
  return unlisten ? async () => void (await unlisten()) : undefined;
}

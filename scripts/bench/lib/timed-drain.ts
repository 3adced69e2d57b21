/**
 * The relay figure every relay bench compares to something: one relay draining a backlog from an emptied
 * outbox table, msg/s from its start to the last row marked sent. What differs between benches is how the
 * backlog is written (`fill`), the relay's settings, and how the queue is cleaned up.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../../../src/config/resolve.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createRelay } from '../../../src/relay/relay.js';
import { deleteQueue, uniqueName, waitFor } from '../../../test/helpers/broker.js';
import type { TestDatabase } from '../../../test/helpers/db.js';

export interface TimedDrainOptions {
  rows: number;
  config: ResolvedConfig;
  /** A prefix for the queue's unique name. */
  name: string;
  /** Writes the backlog of `rows` rows to `destination` (the table is empty). */
  fill(destination: string): Promise<void>;
  timeoutMs?: number;
  /** Removes the queue afterwards; RabbitMQ's `deleteQueue` unless given. */
  cleanUp?(queue: string): Promise<void> | void;
}

export async function timedDrain(t: TestDatabase, options: TimedDrainOptions): Promise<number> {
  const { rows } = options;
  const queue = uniqueName(options.name);
  await t.sql`truncate outbox_published`;
  await options.fill(`/queue/${queue}`);
  await t.sql`vacuum analyze outbox_published`;
  const relay = createRelay({ db: t.db, config: options.config, logger: silentLogger });
  const started = performance.now();
  const running = relay.run();
  // The partial index makes this probe cheap whatever the table size.
  await waitFor(async () => (await t.sql`select 1 from outbox_published where status = 'pending' limit 1`).length === 0, options.timeoutMs ?? 120_000, 5);
  const seconds = (performance.now() - started) / 1000;
  await relay.stop();
  await running;
  const [r] = await t.sql`select count(*)::int as n from outbox_published where status = 'sent'`;
  if (r!.n !== rows) throw new Error(`only ${r!.n} of ${rows} rows sent`);
  await (options.cleanUp ?? deleteQueue)(queue);
  return rows / seconds;
}

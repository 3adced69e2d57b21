/**
 * This relay in the database: a row in the relays table (what `outbox status` shows, with the relay's
 * state), and a session-level advisory lock held for the life of the process. The rows a relay claims
 * carry its lock key (`owner`). When a relay dies — kill -9, a crash, a lost machine — PostgreSQL ends its
 * session and releases the lock; the other relays see that within about a second and make its leased rows
 * due at once, instead of after `relay.leaseTimeout`. A relay whose session lingers (a network partition)
 * still holds its lock: then the lease is the fallback.
 *
 * A relay that only lost its connection for a moment (PostgreSQL restarted) may be taken for dead meanwhile:
 * its rows in flight may then be sent twice (at-least-once; the consumer's inbox absorbs it). It takes its
 * lock again and registers again as soon as the database answers.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { TableNames } from '../config/types.js';
import { describeDbError } from '../db/errors.js';
import { holdSessionLock, type SessionLock } from '../db/session-lock.js';
import type { OutboxDb } from '../db/types.js';
import type { Logger } from '../log/logger.js';
import { monotonicMs } from '../util/clock.js';
import { sleep } from '../util/sleep.js';
import { createInstanceStatements } from './instance-sql.js';

export type RelayState = 'running' | 'blocked';

export interface Instance {
  readonly relayId: string;
  /** Put on every row this relay claims (`owner`); null until the lock is held. */
  readonly ownerKey: number | null;
  /** Registers, takes the lock, and starts watching the other relays. Never rejects. */
  start(): Promise<void>;
  setState(state: RelayState): void;
  stop(): Promise<void>;
}

/** How often a relay looks for dead ones, ms. */
const SWEEP_MS = 500;
/** A relay whose lock has been missing this long is dead (a restart of its connection takes less), ms. */
const DEAD_AFTER_MS = 1000;
/** The relay's row is refreshed this often, ms. */
const SEEN_EVERY_MS = 5000;

/** The advisory-lock namespace of one outbox table: a stable positive 31-bit hash of its name. */
export function lockNamespace(table: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < table.length; i++) h = Math.imul(h ^ table.charCodeAt(i), 0x01000193);
  return (h >>> 1) || 1;
}

export function createInstance(options: { db: OutboxDb; tables: TableNames; logger: Logger; onTakeOver?(rows: number): void }): Instance {
  const { db, tables, logger } = options;
  const relayId = randomUUID();
  const lockKey = randomInt(1, 2 ** 31 - 1);
  const namespace = lockNamespace(tables.published);
  const statements = createInstanceStatements(db, tables, namespace);
  const stopping = new AbortController();
  let lock: SessionLock | undefined;
  let state: RelayState = 'running';
  let watching: Promise<void> | undefined;

  const register = () => statements.register(relayId, lockKey, hostname(), process.pid, state);

  async function watch(signal: AbortSignal): Promise<void> {
    const suspects = new Map<string, number>();
    let seenAt = monotonicMs();
    while (await sleep(SWEEP_MS, signal)) {
      try {
        if (!lock) {
          // Not yet held (the database was away at start): take it, then register.
          lock = await holdSessionLock(db, [namespace, lockKey], { onRegained: () => void register().catch(() => {}) });
          await register();
        }
        const now = monotonicMs();
        if (now - seenAt >= SEEN_EVERY_MS) {
          seenAt = now;
          if (!(await statements.seen(relayId)) && lock.held) await register();
        }
        const lockless = await statements.lockless(relayId);
        for (const id of suspects.keys()) if (!lockless.some((r) => r.relayId === id)) suspects.delete(id);
        for (const dead of lockless) {
          const first = suspects.get(dead.relayId) ?? now;
          suspects.set(dead.relayId, first);
          if (now - first < DEAD_AFTER_MS) continue;
          suspects.delete(dead.relayId);
          const freed = await statements.takeOver(dead);
          logger.info(`relay ${dead.relayId} is gone (its session ended): ${freed} row(s) it had leased are due now`);
          if (freed > 0) options.onTakeOver?.(freed);
        }
      } catch (error) {
        logger.debug(`watching the other relays failed (${describeDbError(error)})`);
      }
    }
  }

  return {
    relayId,
    get ownerKey() {
      return lock?.held ? lockKey : null;
    },
    async start() {
      try {
        lock = await holdSessionLock(db, [namespace, lockKey], { onRegained: () => void register().catch(() => {}) });
        await register();
      } catch (error) {
        logger.warn(`cannot register this relay (${describeDbError(error)}); trying again in the background (until then a dead relay's rows wait out their lease)`);
      }
      watching = watch(stopping.signal);
    },
    setState(next) {
      if (next === state) return;
      state = next;
      void statements.setState(relayId, next).catch((error: unknown) => logger.debug(`cannot record this relay's state (${describeDbError(error)})`));
    },
    async stop() {
      stopping.abort();
      await watching;
      await statements.unregister(relayId).catch(() => {});
      await lock?.release();
    },
  };
}

/**
 * `outbox status` without the CLI: the outbox's state for an operator, so nobody needs SQL to see it. It
 * reads what indexes give cheaply (./status-sql.ts), so it answers in milliseconds on a table of any size
 * and can back a monitoring probe.
 */
import type { TableNames } from '../config/types.js';
import type { OutboxDb } from '../db/types.js';
import { CONNECTION_LEVEL } from '../relay/attribute.js';
import { lockNamespace } from '../relay/instance.js';
import { retentionTask } from '../retention/retention.js';
import { createRetentionStatements } from '../retention/sql.js';
import { createStatusStatements, type HeldKeyRow, type RelayRow } from './status-sql.js';

/** Counts are exact up to this many rows; beyond it they are the planner's estimates, flagged as such. */
export const COUNT_LIMIT = 100_000;
/** The oldest this-many pending rows are looked at one by one (by destination, errors, leases). */
export const PENDING_SCAN = 20_000;
/** Destinations with failed rows listed at most. */
const MAX_FAILED_DESTINATIONS = 1000;
/** Ordering keys held behind a failure listed at most. */
export const MAX_HELD_KEYS = 1000;

export interface DestinationStatus {
  destination: string;
  /** Pending rows (of those looked at: see `OutboxStatusReport.scanned`). */
  pending: number;
  /** Pending rows not due yet: leased by a relay right now, or waiting out a retry backoff or a hold. */
  scheduled: number;
  /** Pending rows waiting out a backoff after a failure of their own. */
  retrying: number;
  /** Pending rows held because the broker refuses the destination (`refused`); 0 otherwise. */
  held: number;
  failed: number;
  /** Seconds since the oldest pending row of this destination was written. */
  oldestPendingAge: number | null;
  /**
   * The broker refuses this destination: its latest error (below) is the broker's ERROR about it — not one
   * about the connection, not a bystander's note. Its waiting rows are held by the relays' circuit breaker.
   */
  refused: boolean;
  /** Its latest error: of its pending row due last among those with an error, else of its newest failed row. */
  lastError: string | null;
}

export type RelayStatus = Omit<RelayRow, 'lockKey'>;

export interface OutboxStatusReport {
  table: string;
  /** When it was taken, by the database clock (ISO-8601). */
  at: string;
  totals: {
    pending: number;
    /** Pending rows not due yet: leased, or waiting out a retry or a hold (of those looked at). */
    scheduled: number;
    sent: number;
    failed: number;
  };
  /** Which totals are the planner's estimates, not counts: sent on a large table, the others past COUNT_LIMIT. */
  estimated: { pending: boolean; sent: boolean; failed: boolean };
  /** How many pending rows the per-destination figures looked at: all of them, or the oldest PENDING_SCAN. */
  scanned: number;
  /** Seconds since the oldest pending row was written. */
  oldestPendingAge: number | null;
  destinations: DestinationStatus[];
  /** Rows held by refused destinations, and which destinations. */
  held: { rows: number; destinations: string[] };
  /**
   * Ordering keys held behind a failure (README "Ordering"): the key's first unsent row failed or waits out a
   * backoff, and the key's later rows wait behind it. At most MAX_HELD_KEYS, by destination and key.
   */
  heldKeys: HeldKeyRow[];
  /**
   * Pending rows still leased by a relay whose session is gone: a running relay frees them within a
   * second or so; with none running they wait out their lease.
   */
  staleLeases: number;
  /** Relays registered in the relays table. `alive`: its session holds its lock; `asleep`: idle, waiting for a NOTIFY. */
  relays: RelayStatus[];
  /** A relay says the broker confirms nothing (a RabbitMQ resource alarm blocks publishers): how many, for how long. */
  alarm: { blocked: number; longest: number | null };
  /** Last retention run per table, from the maintenance table; null if it never ran. */
  retention: Array<{ table: string; lastRunAt: string | null; ago: number | null }>;
}

/** The broker refused the destination itself: an ERROR frame that is not about the connection. */
export function isRefusal(error: string | null): boolean {
  return error !== null && /^E_BROKER_ERROR: /.test(error) && !CONNECTION_LEVEL.test(error);
}

export async function outboxStatus(db: OutboxDb, tables: TableNames): Promise<OutboxStatusReport> {
  const statements = createStatusStatements(db, tables);
  const at = await statements.now();
  const relays = await statements.relays(lockNamespace(tables.published));
  const live = relays.filter((r) => r.alive).map((r) => r.lockKey);

  const pendingCounted = await statements.pendingCount(COUNT_LIMIT);
  const pendingEstimated = pendingCounted > COUNT_LIMIT;
  const pending = pendingEstimated ? Math.max(pendingCounted, await statements.estimate('pending')) : pendingCounted;
  const groups = await statements.pendingScan(PENDING_SCAN, live);
  const failedGroups = await statements.failedByDestination(COUNT_LIMIT, MAX_FAILED_DESTINATIONS);
  const failedCounted = failedGroups.reduce((n, g) => n + g.failed, 0);
  const failedEstimated = failedGroups.some((g) => g.failed > COUNT_LIMIT);
  const failed = failedEstimated ? Math.max(failedCounted, await statements.estimate('failed')) : failedCounted;
  const sentEstimate = await statements.estimate('sent');
  const sentEstimated = sentEstimate > COUNT_LIMIT;
  const sent = sentEstimated ? sentEstimate : await statements.sentCount();

  const names = [...new Set([...groups.map((g) => g.destination), ...failedGroups.map((g) => g.destination)])].sort();
  const destinations = names.map((destination): DestinationStatus => {
    const p = groups.find((g) => g.destination === destination);
    const f = failedGroups.find((g) => g.destination === destination);
    const lastError = p?.currentError ?? f?.lastError ?? null;
    const refused = p?.currentError != null && isRefusal(p.currentError);
    return {
      destination,
      pending: p?.pending ?? 0,
      scheduled: p?.scheduled ?? 0,
      retrying: p?.retrying ?? 0,
      held: refused ? p!.scheduled : 0,
      failed: f?.failed ?? 0,
      oldestPendingAge: p?.oldestAge ?? null,
      refused,
      lastError,
    };
  });
  const ages = groups.map((g) => g.oldestAge).filter((a): a is number => a !== null);
  const blocked = relays.filter((r) => r.alive && r.state === 'blocked');
  const runs = await createRetentionStatements(db, tables).lastRuns();
  return {
    table: tables.published,
    at,
    totals: { pending, scheduled: groups.reduce((n, g) => n + g.scheduled, 0), sent, failed },
    estimated: { pending: pendingEstimated, sent: sentEstimated, failed: failedEstimated },
    scanned: groups.reduce((n, g) => n + g.pending, 0),
    oldestPendingAge: ages.length ? Math.max(...ages) : null,
    destinations,
    held: { rows: destinations.reduce((n, d) => n + d.held, 0), destinations: destinations.filter((d) => d.refused).map((d) => d.destination) },
    heldKeys: await statements.heldKeys(MAX_HELD_KEYS, COUNT_LIMIT),
    staleLeases: groups.reduce((n, g) => n + g.stale, 0),
    relays: relays.map(({ lockKey: _, ...rest }) => rest),
    alarm: { blocked: blocked.length, longest: blocked.length ? Math.max(...blocked.map((r) => r.stateFor)) : null },
    retention: [tables.published, tables.received].map((table) => {
      const run = runs.find((r) => r.task === retentionTask(table));
      return { table, lastRunAt: run ? run.lastRunAt.toISOString() : null, ago: run ? run.ago : null };
    }),
  };
}

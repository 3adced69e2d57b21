/** Test helpers: outbox rows written the way `publish()` writes them, one by one or as a big backlog. */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { resolveConfig, type ResolvedConfig } from '../../src/config/resolve.js';
import type { OutboxConfig } from '../../src/config/types.js';
import { outboxPublished } from '../../src/db/tables.js';
import type { OutboxDb } from '../../src/db/types.js';

export interface TestRow {
  id: string;
  destination: string;
  body: unknown;
  headers: Record<string, string>;
}

/** The headers `publish()` stores (README "Wire format"), plus any extra ones. */
export function rowHeaders(id: string, destination: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'dop-msg-id': id,
    'dop-msg-destination': destination,
    'dop-msg-type': 'Published',
    'dop-msg-sent-time': new Date().toISOString(),
    'dop-correlation-id': randomUUID(),
    ...extra,
  };
}

/** Inserts `count` rows to `destination` (one statement); bodies `{ n, text }`. */
export async function insertRows(db: OutboxDb, destination: string, count: number, extra?: Record<string, string>): Promise<TestRow[]> {
  const rows: TestRow[] = [];
  for (let n = 0; n < count; n++) {
    const id = randomUUID();
    rows.push({ id, destination, body: { n, text: `message ${n} ünïcødé "quoted" \\ back:slash` }, headers: rowHeaders(id, destination, extra) });
  }
  for (let i = 0; i < rows.length; i += 1000) await db.insert(outboxPublished).values(rows.slice(i, i + 1000));
  return rows;
}

/** A big backlog in one INSERT … SELECT (20,000 rows in well under a second). */
export async function insertBacklog(sql: postgres.Sql, destination: string, count: number): Promise<void> {
  await sql`
    insert into outbox_published (id, destination, body, headers)
    select id, ${destination}, jsonb_build_object('n', n, 'pad', repeat('x', 100)),
      jsonb_build_object('dop-msg-id', id::text, 'dop-msg-destination', ${destination}::text, 'dop-msg-type', 'Published',
        'dop-msg-sent-time', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'dop-correlation-id', gen_random_uuid()::text)
    from (select gen_random_uuid() as id, n from generate_series(1, ${count}::int) as n) as g`;
}

/** A resolved config for tests: quiet, fast polls, everything else default unless given. */
export function testConfig(databaseUrl: string, overrides: OutboxConfig = {}): ResolvedConfig {
  return resolveConfig(
    {
      ...overrides,
      database: { url: databaseUrl },
      relay: { progressInterval: 0, pollInterval: 0.2, ...overrides.relay },
    },
    {},
  );
}

export async function countByStatus(sql: postgres.Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from outbox_published group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** How many of the rows with these ids are `sent`. */
export async function countSent(sql: postgres.Sql, ids: string[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox_published where status = 'sent' and id = any(${ids}::uuid[])`;
  return row!.n;
}

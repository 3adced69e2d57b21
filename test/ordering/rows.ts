/** Test helpers for keyed rows: a keyed backlog in one statement, and per-key order checks of what arrived. */
import type postgres from 'postgres';

/**
 * `count` rows to `destination` spread over `keys` keys (`k0` … `k<keys-1>`, round robin), each with its
 * `key_seq` as `publish(tx, { key })` would give it, and the keys table brought up to date. One INSERT … SELECT.
 */
export async function insertKeyedBacklog(sql: postgres.Sql, destination: string, count: number, keys: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      insert into outbox_published (id, destination, body, headers, key, key_seq)
      select id, ${destination}, jsonb_build_object('n', n, 'pad', repeat('x', 100)),
        jsonb_build_object('dop-msg-id', id::text, 'dop-msg-destination', ${destination}::text, 'dop-msg-type', 'Published',
          'dop-msg-sent-time', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'dop-correlation-id', gen_random_uuid()::text),
        'k' || (n % ${keys}::int), coalesce(k.last_seq, 0) + (n / ${keys}::int) + 1
      from (select gen_random_uuid() as id, n from generate_series(0, ${count}::int - 1) as n) as g
      left join outbox_published_keys k on k.destination = ${destination} and k.key = 'k' || (n % ${keys}::int)
      order by n`;
    await tx`
      insert into outbox_published_keys (destination, key, last_seq)
      select destination, key, max(key_seq) from outbox_published where destination = ${destination} and key is not null group by destination, key
      on conflict (destination, key) do update set last_seq = excluded.last_seq`;
  });
}

export interface KeyedArrival {
  id: string;
  key: string;
  keySeq: number;
}

/**
 * Per key, are the first arrivals of each message (duplicates — at-least-once — dropped by id, as the inbox
 * drops them) in strictly increasing `outbox-key-seq` order, with no gap from 1? Returns the problems found.
 */
export function orderProblems(arrivals: KeyedArrival[], expectedPerKey?: Map<string, number>): string[] {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const a of arrivals) {
    if (seen.has(a.id)) continue;
    seen.add(a.id);
    const before = last.get(a.key) ?? 0;
    if (a.keySeq !== before + 1) problems.push(`key ${a.key}: ${a.keySeq} after ${before}`);
    last.set(a.key, Math.max(before, a.keySeq));
  }
  if (expectedPerKey) {
    for (const [key, n] of expectedPerKey) if ((last.get(key) ?? 0) !== n) problems.push(`key ${key}: reached ${last.get(key) ?? 0} of ${n}`);
  }
  return problems;
}

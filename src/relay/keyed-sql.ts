/**
 * The keyed claim (README "Ordering"): rows with a key are sent in `key_seq` order per destination and key,
 * whichever relay sends them. A claim takes only a key's *head* — its first row not yet sent — and, with it,
 * the run of rows that follows it, so that one relay sends them in order on one connection (RabbitMQ keeps a
 * connection's publish order). Another relay cannot take a key's later rows meanwhile: they are not heads
 * until every row before them is `sent`, and the head itself is leased or locked. So any number of relays
 * share the keys without talking to each other, and a key whose head fails waits (backoff, `failed`, a held
 * destination) while every other key goes on.
 *
 * Why heads, not leased key partitions: the head test is one descent of the head-of-key index
 * `(destination, key, key_seq) WHERE status <> 'sent'`, relays need no membership protocol or rebalancing,
 * and a crashed relay's keys come back with its rows (the lease, the owner takeover). The cost is that a key's
 * next run is claimable only after its previous run is marked sent: runs amortise that round trip
 * (scripts/bench/ordering.bench.ts measures 10 keys and 1,000 keys beside unordered rows).
 *
 * `status <> 'sent'` is repeated beside `status = 'pending'` wherever a key's rows are looked up, and the
 * lookups are LATERAL, one per key: it is the head-of-key index's predicate, which the planner does not infer
 * from the other, and the `limit`/`offset 0` keep it from flattening them into a join, which with stale
 * statistics it did (measured: a 200-key mark took 320–830 ms
 * through a nested loop over every parked row, instead of 200 descents of that index).
 *
 * PARKING. A key's rows behind its run are not heads, yet they are pending and due: the head walk would
 * test each of them on every claim (measured: 20,000 such rows behind 10 busy keys, 230 ms a claim). So the
 * claim that takes a run also parks the rest of its key — due in `park` seconds, owner cleared — and the
 * mark of the run's last row unparks the next one. A parked row is skipped inside the walk's index (its
 * next_attempt_at is an index column), without a heap visit. Parking is only a hint: the head test alone
 * decides what may be sent, and a row whose unpark was missed (a relay crash between claim and mark) is due
 * again when its park ends.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { createOutboxTables } from '../db/tables.js';

type Published = ReturnType<typeof createOutboxTables>['published'];

/**
 * A claim parks at most this many times its batch size of rows; a long backlog behind a few keys is parked over a
 * few claims. The caps (this one and the batch's own) also keep the planner's estimate of the statement small:
 * uncapped, its guess of a few thousand rows per key for 1,000 keys made the cost cross `jit_above_cost`, and
 * compiling the statement took 470 ms of a 490 ms claim (measured after ANALYZE of a 20,000-row backlog).
 */
const PARK_FACTOR = 10;

export interface KeyedClaimParams {
  /** Keys (heads) a claim takes at most. */
  heads: number;
  /** Rows a claim takes at most, heads included: what is left after the heads is shared out as runs. */
  limit: number;
  /** Seconds: the claimed rows' lease, and how long the rest of their keys stays parked. */
  lease: number;
  /** Ids this relay has in flight: never claimed again meanwhile. */
  inflight: string[];
  owner: number | null;
}

/**
 * One keyed claim: up to `heads` heads in creation order, each followed by as much of its run as `limit`
 * shares out (`limit / heads` rows a key, at least the head); leased like the unordered claim.
 *
 * - HEADS walk the keyed pending index `(seq, next_attempt_at) WHERE status = 'pending' and key_seq is not
 *   null` in creation order (oldest key first: no key starves), due rows only (a head in backoff holds its
 *   key, parked rows are skipped), and keep a row only when nothing of its key before it is unsent — a
 *   `failed` row holds its key too, until `outbox retry`. SKIP LOCKED: concurrent relays take disjoint heads.
 * - RUNS: the rows after each head in `key_seq` order, up to the first that is not plainly pending (a
 *   `failed` one, or one this relay still has in flight): a run never skips a row. They need no SKIP
 *   LOCKED: no other relay claims a row behind a head it does not hold.
 * - PARK: the key's other due rows after the run (see above); `owner` null tells a parked row from a leased one.
 */
export function keyedClaim(t: Published, p: KeyedClaimParams): SQL {
  const inflight = sql`${sql.param(p.inflight)}::uuid[]`;
  const limit = sql`${p.limit}::int`;
  const heads = sql`${p.heads}::int`;
  const lease = sql`make_interval(secs => ${p.lease}::float8)`;
  return sql`
    with heads as (
      select h.id, h.destination, h.key, h.key_seq from ${t} h
      where h.status = 'pending' and h.key_seq is not null and h.next_attempt_at <= now()
        and h.id <> all(${inflight})
        and not exists (
          select 1 from ${t} e
          where e.status <> 'sent' and e.destination = h.destination and e.key = h.key and e.key_seq < h.key_seq)
      order by h.seq
      limit ${heads}
      for update of h skip locked
    ), picked as (
      select id from heads
      union all
      select r.id from heads h cross join lateral (
        select f.id from (
          select f.id, bool_and(f.status = 'pending' and f.id <> all(${inflight})) over (order by f.key_seq) as clear
          from (
            select f.id, f.status, f.key_seq from ${t} f
            where f.status <> 'sent' and f.destination = h.destination and f.key = h.key and f.key_seq > h.key_seq
            order by f.key_seq
            limit greatest(${limit} / (select count(*) from heads)::int - 1, 0)
          ) f
        ) f
        where f.clear
      ) r
      limit ${limit}
    ), claimed as (
      update ${t} set attempts = attempts + 1, next_attempt_at = now() + ${lease}, owner = ${p.owner}::int
      where id in (select id from picked)
      returning id, seq, destination, body, headers, attempts, key, key_seq
    ), tails as (
      select destination, key, max(key_seq) as last from claimed group by destination, key
    ), parked as (
      update ${t} set next_attempt_at = now() + ${lease}, owner = null
      where id in (
        select x.id from tails cross join lateral (
          select x.id from ${t} x
          where x.status <> 'sent' and x.destination = tails.destination and x.key = tails.key and x.key_seq > tails.last
            and x.status = 'pending' and x.next_attempt_at <= now() and x.id <> all(${inflight})
          offset 0
        ) x
        limit ${limit} * ${PARK_FACTOR})
    )
    select id, seq, destination, body, headers, attempts, key, key_seq as "keySeq" from claimed`;
}

/**
 * MARK SENT for a group that holds keyed rows: as the plain mark, then unparks the row after the last one
 * marked of each key — now the key's head — so the next claim finds it at once. Only a parked row (owner
 * null, not due): a row another claim leased keeps its lease.
 */
export function markSentKeyed(t: Published, ids: string[]): SQL {
  return sql`
    with marked as (
      update ${t} set status = 'sent', sent_at = now(), last_error = null
      where id = any(${sql.param(ids)}::uuid[])
      returning destination, key, key_seq
    ), tails as (
      select destination, key, max(key_seq) as last from marked where key_seq is not null group by destination, key
    )
    update ${t} set next_attempt_at = now()
    where id in (
      select n.id from tails cross join lateral (
        select n.id from ${t} n
        where n.status <> 'sent' and n.destination = tails.destination and n.key = tails.key and n.key_seq = tails.last + 1
          and n.status = 'pending' and n.owner is null and n.next_attempt_at > now()
        limit 1
      ) n)`;
}

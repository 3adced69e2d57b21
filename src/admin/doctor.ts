/**
 * `outbox doctor` without the CLI: checks what a working deployment needs and says, per check, what is
 * wrong and what to do. The database (reachable, migrated, indexes valid, the NOTIFY trigger), this host's
 * clock against the database's, the broker (reachable, login and vhost accepted, a SEND confirmed and
 * delivered through a temporary queue) and, where RabbitMQ's management API can be read, whether each
 * configured `/topic/` destination has a queue bound to it — RabbitMQ confirms and drops what it cannot route.
 */
import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../config/resolve.js';
import { explainDbError } from '../db/errors.js';
import { lastAppliedMigration, shippedMigrations } from '../db/migrate.js';
import type { OutboxDb } from '../db/types.js';
import { rowsOf } from '../db/types.js';
import { isOutboxError, OutboxError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import { brokerWords } from '../relay/attribute.js';
import { brokerTraits } from '../transport/brokers.js';
import { connect } from '../stomp/connect.js';
import { monotonicMs } from '../util/clock.js';
import { createManagement, topicMatches, type Management } from './management.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** Clock skew beyond this is worth a warning, seconds. */
const SKEW_WARN = 1;

/** The database checks: reachable, migrations, tables, indexes, trigger, clock. */
export async function checkDatabase(db: OutboxDb, config: ResolvedConfig, where: string): Promise<Check[]> {
  const checks: Check[] = [];
  const tables = config.tables;
  try {
    const [v] = rowsOf<{ version: string; who: string }>(await db.execute(sql`select current_setting('server_version') as version, current_user as who`));
    checks.push({ name: 'database', status: 'ok', detail: `PostgreSQL ${v!.version} at ${where}, as ${v!.who}` });
  } catch (error) {
    checks.push({ name: 'database', status: 'fail', detail: `${explainDbError(error).message} — ${where}` });
    return checks;
  }

  const shipped = await shippedMigrations();
  const last = await lastAppliedMigration(db, tables);
  const missing = shipped.filter((m) => last === null || m.when > last).map((m) => m.tag);
  const present = rowsOf<{ name: string }>(
    await db.execute(sql`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p') and c.relname = any(${`{${Object.values(tables).join(',')}}`}::text[])`),
  ).map((r) => r.name);
  const absent = Object.values(tables).filter((t) => !present.includes(t));
  if (last === null && absent.length === 0) {
    checks.push({ name: 'migrations', status: 'warn', detail: 'the tables exist but no migration is recorded: your own drizzle-kit owns them (the checks below are what counts)' });
  } else if (missing.length) {
    checks.push({ name: 'migrations', status: 'fail', detail: `${missing.length} not applied (${missing.join(', ')}): run outbox migrate` });
  } else if (last !== null && last > shipped[shipped.length - 1]!.when) {
    checks.push({ name: 'migrations', status: 'warn', detail: 'the database has migrations newer than this version of drizzle-outbox' });
  } else {
    checks.push({ name: 'migrations', status: 'ok', detail: `all ${shipped.length} applied (the last: ${shipped[shipped.length - 1]!.tag})` });
  }
  checks.push(
    absent.length
      ? { name: 'tables', status: 'fail', detail: `missing: ${absent.join(', ')}: run outbox migrate` }
      : { name: 'tables', status: 'ok', detail: present.sort().join(', ') },
  );

  if (absent.includes(tables.published) || absent.includes(tables.received)) {
    checks.push({ name: 'indexes', status: 'skip', detail: 'needs the tables' }, { name: 'trigger', status: 'skip', detail: 'needs the tables' });
    checks.push(await clockCheck(db));
    return checks;
  }

  // What the claim, retention, status and the inbox's dedup rely on (README "Tables").
  const expected = [
    `${tables.published}_pkey`,
    `${tables.published}_pending_seq_idx`,
    `${tables.published}_sent_at_idx`,
    `${tables.published}_failed_idx`,
    `${tables.received}_message_id_queue_pk`,
    `${tables.received}_received_at_idx`,
  ];
  const indexes = rowsOf<{ name: string; valid: boolean }>(
    await db.execute(sql`select c.relname as name, (i.indisvalid and i.indisready) as valid from pg_index i
      join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relname = any(${`{${expected.join(',')}}`}::text[])`),
  );
  const lacking = expected.filter((e) => !indexes.some((i) => i.name === e));
  const invalid = indexes.filter((i) => !i.valid).map((i) => i.name);
  checks.push(
    lacking.length || invalid.length
      ? {
          name: 'indexes',
          status: 'fail',
          detail: [lacking.length ? `missing: ${lacking.join(', ')} (run outbox migrate)` : '', invalid.length ? `invalid: ${invalid.join(', ')} (REINDEX INDEX CONCURRENTLY each)` : '']
            .filter(Boolean)
            .join('; '),
        }
      : { name: 'indexes', status: 'ok', detail: `${expected.length} present and valid` },
  );

  const [trigger] = rowsOf<{ enabled: string }>(
    await db.execute(sql`select t.tgenabled as enabled from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relname = ${tables.published} and t.tgname = ${`${tables.published}_notify`} and not t.tgisinternal`),
  );
  checks.push(
    !trigger
      ? { name: 'trigger', status: 'warn', detail: `no NOTIFY trigger on ${tables.published}: relays find new rows by polling (relay.pollInterval) instead of within milliseconds; outbox migrate (or outbox/outbox-trigger.sql) installs it` }
      : trigger.enabled === 'D'
        ? { name: 'trigger', status: 'warn', detail: `the NOTIFY trigger on ${tables.published} is disabled: relays poll instead of waking within milliseconds` }
        : { name: 'trigger', status: 'ok', detail: `${tables.published}_notify wakes sleeping relays` },
  );

  checks.push(await clockCheck(db));
  return checks;
}

/** This host's clock against the database's; half the round trip is the best guess of when it was read. */
async function clockCheck(db: OutboxDb): Promise<Check> {
  const t0 = Date.now();
  const m0 = monotonicMs();
  const [clock] = rowsOf<{ now: number }>(await db.execute(sql`select extract(epoch from clock_timestamp())::float8 * 1000 as now`));
  const skew = (Number(clock!.now) - (t0 + (monotonicMs() - m0) / 2)) / 1000;
  const side = skew > 0 ? 'behind' : 'ahead of';
  return Math.abs(skew) > SKEW_WARN
    ? { name: 'clock', status: 'warn', detail: `this host is ${Math.abs(skew).toFixed(1)} s ${side} the database: relays only compare database times, but dop-msg-sent-time and your logs come from this clock` }
    : { name: 'clock', status: 'ok', detail: `this host and the database agree within ${Math.max(Math.abs(skew), 0.001).toFixed(3)} s` };
}

/** Broker checks: connect (login, vhost), and a SEND to a temporary queue confirmed and delivered back. */
export async function checkBroker(config: ResolvedConfig): Promise<Check[]> {
  const hosts = config.broker.hosts.map((h) => `${h.host}:${h.port}`).join(', ');
  let session;
  try {
    session = await connect({ broker: config.broker, logger: silentLogger });
  } catch (error) {
    const e = error instanceof OutboxError ? error : new OutboxError('E_CONNECT', String(error));
    const detail =
      e.code === 'E_BROKER_ERROR' ? `the broker refused the login or the vhost "${config.broker.vhost}": ${brokerWords(e.message)}`
      : e.code === 'E_CONNECT_TIMEOUT' ? `${e.message} (is it a STOMP port? RabbitMQ's is 61613, not AMQP's 5672)`
      : `cannot reach ${hosts}: ${e.message}`;
    return [{ name: 'broker', status: 'fail', detail }, { name: 'publish', status: 'skip', detail: 'needs the broker' }];
  }
  const checks: Check[] = [
    { name: 'broker', status: 'ok', detail: `${session.server.server ?? 'a STOMP 1.2 broker'} at ${session.address}, vhost ${config.broker.vhost}, login ${config.broker.login}` },
  ];
  const queue = `outbox-doctor-${Math.random().toString(36).slice(2, 10)}`;
  try {
    // Exclusive and auto-deleted: the queue goes with this connection, whatever happens.
    let delivered!: () => void;
    const back = new Promise<void>((resolve) => (delivered = resolve));
    const subscription = session.subscribe(`/queue/${queue}`, { exclusive: 'true', 'auto-delete': 'true', durable: 'false', ack: 'auto' }, () => delivered());
    await subscription.ready;
    const started = monotonicMs();
    // Sent to the queue without declaring it (RabbitMQ's /amq/queue/, ActiveMQ's /queue/: src/transport/brokers.ts).
    await session.send(brokerTraits(session.flavor).existingQueue(queue), '{"doctor":true}', { headers: { 'content-type': 'application/json' } });
    const confirmed = monotonicMs() - started;
    const arrived = await Promise.race([back.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref())]);
    checks.push(
      arrived
        ? { name: 'publish', status: 'ok', detail: `a SEND to a temporary queue was confirmed (RECEIPT in ${confirmed.toFixed(0)} ms) and delivered back` }
        : { name: 'publish', status: 'fail', detail: 'a SEND to a temporary queue was confirmed but never delivered back within 3 s' },
    );
  } catch (error) {
    checks.push({ name: 'publish', status: 'fail', detail: `a SEND to a temporary queue failed: ${isOutboxError(error, 'E_BROKER_ERROR') ? brokerWords(error.message) : (error as Error).message}` });
  } finally {
    await session.disconnect(3).catch(() => {});
  }
  return checks;
}

/** The final destinations of the config's publish entries (version applied). */
export function configuredDestinations(config: ResolvedConfig): string[] {
  const found = new Set<string>();
  for (const model of Object.values(config.models ?? {})) {
    for (const entry of model.publish) found.add(entry.version ? `${entry.destination}.${entry.version}` : entry.destination);
  }
  return [...found];
}

/**
 * For each configured `/topic/` destination, whether a queue is bound to its routing key on `amq.topic`
 * (and for each `/amq/queue/` one, whether the queue exists), read from RabbitMQ's management API. When
 * the API cannot be read, one check says so plainly, with how to look by hand.
 */
export async function checkRouting(config: ResolvedConfig, management: Management = createManagement(config)): Promise<Check[]> {
  const destinations = configuredDestinations(config);
  const topics = destinations.filter((d) => d.startsWith('/topic/'));
  const amqQueues = destinations.filter((d) => d.startsWith('/amq/queue/'));
  if (topics.length + amqQueues.length === 0) return [];
  let seen;
  try {
    seen = await management.read();
  } catch (error) {
    return [
      {
        name: 'routing',
        status: 'skip',
        detail:
          `cannot see which queues are bound: ${(error as Error).message}. Enable rabbitmq_management (or set OUTBOX_RABBITMQ_MANAGEMENT_URL), ` +
          'or look by hand: rabbitmqctl list_bindings source_name routing_key destination_name',
      },
    ];
  }
  const checks: Check[] = [];
  for (const destination of topics) {
    const key = destination.slice('/topic/'.length);
    const queues = seen.bindings.filter((b) => b.source === 'amq.topic' && b.destination_type === 'queue' && topicMatches(b.routing_key, key)).map((b) => b.destination);
    checks.push(
      queues.length
        ? { name: destination, status: 'ok', detail: `bound to ${[...new Set(queues)].join(', ')}` }
        : { name: destination, status: 'fail', detail: `no queue is bound to routing key ${key}: RabbitMQ confirms these events and drops them (start its consumer, or declare and bind the queue)` },
    );
  }
  for (const destination of amqQueues) {
    const queue = destination.slice('/amq/queue/'.length);
    checks.push(
      seen.queues.includes(queue)
        ? { name: destination, status: 'ok', detail: 'the queue exists' }
        : { name: destination, status: 'fail', detail: `there is no queue ${queue}: RabbitMQ confirms these events and drops them` },
    );
  }
  return checks;
}

export { topicMatches };

/**
 * The relay on ActiveMQ Classic, against ActiveMQ's own ceiling: the same bare-socket probe as relay.bench.ts
 * (the relay's exact frames, persistent, a receipt on each, window 500, no database), on ActiveMQ's STOMP
 * connector. One JSON line:
 *
 * - throughput: a pre-inserted backlog (default 5,000 rows) → all `sent`, msg/s, 3 interleaved runs of
 *   ceiling and relay, medians and their ratio. Each run's queue is drained afterwards (ActiveMQ drops the
 *   empty queue later: STOMP cannot delete one).
 *
 * ActiveMQ answers a SEND that asks for a receipt only after it stored the message (KahaDB, journal synced to
 * disk), and handles one connection's SENDs one after another: one connection's ceiling is about one
 * message per disk sync (hundreds per second here, against ~14k/s for a topic with no queue behind it
 * and ~20k/s non-persistent, where nothing is stored). Hence the smaller default backlog.
 *
 *   npm run bench -- activemq     # BENCH_ACTIVEMQ_ROWS
 */
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { ACTIVEMQ_PORT, STOMP_HOST, uniqueName, waitFor } from '../../test/helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/db.js';
import { insertBacklog, testConfig } from '../../test/relay/rows.js';
import { sameFramesCeiling } from './lib/same-frames-ceiling.js';
import { timedDrain } from './lib/timed-drain.js';

const ROWS = Number(process.env.BENCH_ACTIVEMQ_ROWS ?? 5_000);
const RUNS = 3;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const broker = (url: string) => testConfig(url, { broker: { hosts: [{ host: STOMP_HOST, port: ACTIVEMQ_PORT }] } });

/** Takes every message out of `queue`, so the broker holds nothing of the run (and drops the queue later). */
async function drain(queue: string, count: number): Promise<void> {
  const session = await connect({ broker: { ...broker('postgres://unused').broker, heartbeat: [0, 0] }, logger: silentLogger });
  let got = 0;
  await session.subscribe(`/queue/${queue}`, { ack: 'auto', 'activemq.prefetchSize': '1000' }, () => void got++).ready;
  await waitFor(() => got >= count, 120_000, 20);
  await session.disconnect();
}

async function ceiling(): Promise<number> {
  const queue = uniqueName('bench-amq-ceiling');
  const rate = await sameFramesCeiling({ host: STOMP_HOST, port: ACTIVEMQ_PORT, destination: `/queue/${queue}`, messages: ROWS });
  await drain(queue, ROWS);
  return rate;
}

const relayThroughput = (t: TestDatabase): Promise<number> =>
  timedDrain(t, {
    rows: ROWS,
    config: broker(t.url),
    name: 'bench-amq-relay',
    fill: (destination) => insertBacklog(t.sql, destination, ROWS),
    timeoutMs: 180_000,
    cleanUp: (queue) => drain(queue, ROWS),
  });

const t = await createTestDatabase();
try {
  const relayRuns: number[] = [];
  const ceilingRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so machine noise hits both alike.
    ceilingRuns.push(await ceiling());
    relayRuns.push(await relayThroughput(t));
  }
  const relay = stats(relayRuns.map(Math.round));
  const ceil = stats(ceilingRuns.map(Math.round));
  console.log(
    JSON.stringify({
      bench: 'activemq',
      figure: 'throughput',
      broker: 'ActiveMQ 5.17 (scripts/activemq/activemq.xml, KahaDB)',
      messages: ROWS,
      unit: 'msg/s',
      relay,
      ceiling: ceil,
      ratio: round(relay.median / ceil.median, 2),
      ratio_per_run: relayRuns.map((r, i) => round(r / ceilingRuns[i]!, 2)),
      note: "ceiling: bare socket to ActiveMQ's STOMP connector, the relay's exact frames (10 headers), persistent, receipt on each, window 500, no database",
    }),
  );
} finally {
  await t.drop();
}

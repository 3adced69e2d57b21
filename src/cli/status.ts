import { defineCommand } from 'citty';
import { MAX_HELD_KEYS, outboxStatus, type OutboxStatusReport } from '../admin/status.js';
import { formatAge } from '../util/time.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';

/** `outbox status [--json]`: the outbox at a glance, so nobody needs SQL to see it. */
export default defineCommand({
  meta: {
    name: 'status',
    description: 'Show the outbox: pending, failed and sent rows, per destination, refused destinations, ordering keys held behind a failure, stale leases, relays, last retention run',
  },
  args: {
    ...commonArgs,
    json: { type: 'boolean', description: 'Print one JSON object instead of a table' },
  },
  async run({ args }) {
    const { config } = await commandConfig(args);
    await withDatabase(config, async (database) => {
      const status = await outboxStatus(database.db, config.tables);
      process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : render(status, database.where));
    });
  },
});

const n = (x: number) => x.toLocaleString('en-US');

export function render(s: OutboxStatusReport, where: string): string {
  const lines = [`${s.table} on ${where}`, ''];
  const { pending, scheduled, sent, failed } = s.totals;
  const about = (estimated: boolean, x: number) => (estimated ? `~${n(x)} (estimate)` : n(x));
  lines.push(
    `  pending ${about(s.estimated.pending, pending)}${scheduled ? ` (${n(scheduled)} leased or waiting to retry)` : ''}` +
      `${pending ? `, oldest ${formatAge(s.oldestPendingAge)}` : ''} · failed ${about(s.estimated.failed, failed)} · sent ${about(s.estimated.sent, sent)}`,
    '',
  );
  if (s.destinations.length) {
    const header = ['destination', 'pending', 'waiting', 'failed', 'oldest pending', ''];
    const body = s.destinations.map((d) => [
      d.destination, n(d.pending), n(d.scheduled), n(d.failed), d.pending ? formatAge(d.oldestPendingAge) : '-', d.refused ? 'refused' : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const row = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();
    lines.push(row(header), ...body.map(row));
    if (s.scanned < pending) lines.push(`  (per destination: the oldest ${n(s.scanned)} pending rows)`);
    lines.push('');
    const notes: string[] = [];
    for (const d of s.destinations.filter((x) => x.refused)) {
      notes.push(`  ${d.destination} is refused by the broker: ${n(d.held)} row(s) held until the relay's next probe of it`, `    ${d.lastError}`);
    }
    for (const d of s.destinations.filter((x) => !x.refused && x.lastError && (x.failed || x.retrying))) {
      notes.push(`  last error for ${d.destination}: ${d.lastError}`);
    }
    if (s.heldKeys.length) {
      notes.push(`  ${s.heldKeys.length}${s.heldKeys.length >= MAX_HELD_KEYS ? '+' : ''} ordering key(s) held behind a failure (their later rows wait):`);
      for (const k of s.heldKeys) {
        notes.push(`    ${k.destination} key ${k.key}: #${k.headSeq} ${k.failed ? 'failed' : 'retrying'}, ${n(k.waiting)} behind it${k.lastError ? ` — ${k.lastError.split('\n')[0]}` : ''}`);
      }
    }
    if (failed) notes.push(`  ${about(s.estimated.failed, failed)} failed row(s): \`outbox failed\` lists them; fix the cause, then \`outbox retry\` re-queues them`);
    if (s.staleLeases) {
      const running = s.relays.some((r) => r.alive);
      notes.push(`  ${n(s.staleLeases)} row(s) leased by a relay that is gone: ${running ? 'a running relay frees them within seconds' : 'no relay is running; they wait out their lease'}`);
    }
    if (notes.length) lines.push(...notes, '');
  } else {
    lines.push('  the outbox is empty', '');
  }
  const alive = s.relays.filter((r) => r.alive);
  const gone = s.relays.length - alive.length;
  lines.push(
    `  relays: ${alive.length ? `${alive.length} running (${alive.filter((r) => r.asleep).length} asleep, waiting for work)` : 'none running'}` +
      `${gone ? `, ${gone} gone (their rows are taken over by a running relay)` : ''}`,
  );
  for (const r of s.relays) {
    const state = !r.alive ? 'gone' : r.state === 'blocked' ? `blocked ${formatAge(r.stateFor)}: the broker confirms nothing (a resource alarm?)` : r.asleep ? 'asleep' : 'sending';
    lines.push(`    ${r.host} pid ${r.pid}  up since ${r.startedAt}  seen ${formatAge(r.seenAgo)} ago  ${state}`);
  }
  if (s.alarm.blocked) lines.push(`  ${s.alarm.blocked} relay(s) blocked by the broker for up to ${formatAge(s.alarm.longest)}: check \`rabbitmqctl status\` for a memory or disk alarm`);
  lines.push('');
  for (const r of s.retention) {
    lines.push(`  retention of ${r.table}: ${r.lastRunAt ? `last run ${r.lastRunAt} (${formatAge(r.ago)} ago)` : 'never run yet'}`);
  }
  lines.push(
    '',
    '  Note: RabbitMQ confirms a message sent to a /topic/ no queue is bound to, then drops it. "sent" means the',
    '  broker confirmed it, not that a consumer queue got it: `outbox doctor` checks the bindings it can see.',
  );
  return `${lines.join('\n')}\n`;
}

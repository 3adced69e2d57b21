import { defineCommand } from 'citty';
import { outboxStatus, type OutboxStatusReport } from '../admin/status.js';
import { formatAge } from '../util/time.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';

/** `outbox status [--json]`: the outbox at a glance, so nobody needs SQL to see it. */
export default defineCommand({
  meta: {
    name: 'status',
    description: 'Show the outbox: rows by status and destination, oldest pending age, failures, last retention run',
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
  lines.push(
    `  pending ${n(pending)}${scheduled ? ` (${n(scheduled)} leased or waiting to retry)` : ''}` +
      `${pending ? `, oldest ${formatAge(s.oldestPendingAge)}` : ''} · sent ${n(sent)} · failed ${n(failed)}`,
    '',
  );
  if (s.destinations.length) {
    const header = ['destination', 'pending', 'sent', 'failed', 'oldest pending'];
    const body = s.destinations.map((d) => [d.destination, n(d.pending), n(d.sent), n(d.failed), d.pending ? formatAge(d.oldestPendingAge) : '-']);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const row = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
    lines.push(row(header), ...body.map(row), '');
    for (const d of s.destinations.filter((x) => x.lastError && (x.failed || x.scheduled))) {
      lines.push(`  last error for ${d.destination}: ${d.lastError}`);
    }
    if (failed) lines.push(`  ${n(failed)} failed row(s): fix the cause, then \`outbox retry\` re-queues them`);
    if (s.destinations.some((x) => x.lastError && (x.failed || x.scheduled)) || failed) lines.push('');
  } else {
    lines.push('  the outbox is empty', '');
  }
  for (const r of s.retention) {
    lines.push(`  retention of ${r.table}: ${r.lastRunAt ? `last run ${r.lastRunAt} (${formatAge(r.ago)} ago)` : 'never run yet'}`);
  }
  lines.push(
    '',
    '  Note: RabbitMQ confirms a message sent to a /topic/ no queue is bound to, then drops it. "sent" means the',
    '  broker confirmed it, not that a consumer queue got it: check `rabbitmqctl list_queues name messages`.',
  );
  return `${lines.join('\n')}\n`;
}

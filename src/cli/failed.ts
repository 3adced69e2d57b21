import { defineCommand } from 'citty';
import { listFailed } from '../admin/failed.js';
import { brokerWords } from '../relay/attribute.js';
import { formatAge } from '../util/time.js';
import { commandConfig, commonArgs, withDatabase } from './common.js';
import { positiveInteger, since } from './options.js';

/** `outbox failed [--destination D] [--since T] [--limit N] [--json]`: the failed rows, newest first. */
export default defineCommand({
  meta: { name: 'failed', description: 'List failed outbox rows, newest first: destination, attempts, last error, age' },
  args: {
    ...commonArgs,
    destination: { type: 'string', description: 'Only rows to this destination, e.g. /queue/billing' },
    since: { type: 'string', description: 'Only rows written since: a duration (30m, 2h, 1d) or an ISO-8601 time' },
    limit: { type: 'string', description: 'At most this many rows (default 50)' },
    json: { type: 'boolean', description: 'Print one JSON object ({ rows, total }) instead of a table' },
  },
  async run({ args }) {
    const filter = { destination: args.destination, since: since(args.since), limit: positiveInteger('limit', args.limit) ?? 50 };
    const { config } = await commandConfig(args);
    await withDatabase(config, async (database) => {
      const found = await listFailed(database.db, config.tables, filter);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
        return;
      }
      const total = `${found.totalIsLowerBound ? 'more than ' : ''}${found.total.toLocaleString('en-US')}`;
      const scope = `${args.destination ? ` to ${args.destination}` : ''}${args.since ? ` written since ${args.since}` : ''}`;
      if (found.rows.length === 0) {
        process.stdout.write(`no failed rows${scope}\n`);
        return;
      }
      const lines = [`${total} failed row(s)${scope}${found.rows.length < found.total ? `; the newest ${found.rows.length}` : ''}:`, ''];
      const header = ['written', 'attempts', 'destination', 'id', 'last error'];
      const body = found.rows.map((r) => [`${formatAge(r.age)} ago`, String(r.attempts), r.destination, r.id, oneLine(r.lastError)]);
      const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
      const row = (cells: string[]) => `  ${cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`;
      lines.push(row(header), ...body.map(row), '', '  fix the cause, then `outbox retry` (with the same --destination / --since, or --id) re-queues them');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  },
});

/** Broker errors quote whole argument tables: keep a table row readable (--json has the full text). */
function oneLine(error: string | null): string {
  // `E_BROKER_ERROR: 127.0.0.1:61613 sent ERROR: precondition_failed — PRECONDITION_FAILED - …` → the broker's words.
  const short = error?.startsWith('E_BROKER_ERROR: ') ? `E_BROKER_ERROR: ${brokerWords(error)}` : error;
  const text = (short ?? '-').replace(/\s+/g, ' ');
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

import { defineCommand } from 'citty';
import { peekDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter, type MoveResult } from '../admin/dlq.js';
import { deadLetterQueue } from '../consumer/subscription.js';
import { defaultLogger } from '../log/logger.js';
import { OutboxError } from '../errors.js';
import { commandConfig, commonArgs } from './common.js';
import { positiveInteger } from './options.js';

/**
 * `outbox dlq peek|replay|purge <queue>`: the dead-letter queue `DLQ.<queue>` of a consumer queue, without
 * a RabbitMQ console (src/admin/dlq.ts says how each is done over STOMP).
 */
const queue = { type: 'positional', required: true, description: 'the consumer queue (its dead letters are in DLQ.<queue>)' } as const;
const ids = (value: unknown): string[] | undefined =>
  value === undefined ? undefined : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);

const peek = defineCommand({
  meta: { name: 'peek', description: 'Show the messages in DLQ.<queue> (headers, body, the reason when known); they stay there' },
  args: {
    queue,
    ...commonArgs,
    limit: { type: 'string', description: 'At most this many messages (default 10)' },
    json: { type: 'boolean', description: 'Print a JSON array instead' },
  },
  async run({ args }) {
    const limit = positiveInteger('limit', args.limit) ?? 10;
    const { config } = await commandConfig(args);
    const found = await peekDeadLetters(config, args.queue, { limit, logger: defaultLogger('dlq') });
    if (args.json) {
      process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
      return;
    }
    const dlq = deadLetterQueue(args.queue);
    if (found.length === 0) {
      process.stdout.write(`${dlq} is empty\n`);
      return;
    }
    const more = found.length === limit ? ` (the first ${limit}; there may be more: --limit)` : '';
    const lines = [`${dlq}: ${found.length} message(s)${more}, left in the queue`, ''];
    found.forEach((m, i) => lines.push(...show(m, i + 1), ''));
    lines.push(`  \`outbox dlq replay ${args.queue}\` moves them back to ${args.queue} (--id for some), \`outbox dlq purge ${args.queue} --yes\` drops them`);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
});

function show(m: DeadLetter, n: number): string[] {
  const headers = Object.entries(m.headers)
    .filter(([name]) => !/^x-(first|last)-death-/.test(name))
    .map(([name, value]) => `${name}: ${value}`)
    .join(' · ');
  const body = m.body.length > 500 ? `${m.body.slice(0, 497)}...` : m.body;
  return [
    `  ${n}. ${m.idSource} ${m.id}${m.redelivered ? ' (delivered before)' : ''}`,
    `     reason: ${m.reason?.text ?? 'not recorded'}`,
    `     headers: ${headers || '-'}`,
    `     body: ${body.replace(/\n/g, '\\n')}`,
  ];
}

function outcome(verb: string, result: MoveResult, dlq: string, to?: string): string {
  const lines = [`outbox: ${verb} ${result.moved.toLocaleString('en-US')} message(s) from ${dlq}${to ? ` to ${to}` : ''}`];
  if (result.left) lines.push(`outbox: left ${result.left.toLocaleString('en-US')} other message(s) in ${dlq}`);
  if (!result.confirmed && result.moved) {
    lines.push(`outbox: the broker did not confirm the end of the session: messages whose ACK it did not process are still in ${dlq}`);
  }
  return `${lines.join('\n')}\n`;
}

const replay = defineCommand({
  meta: {
    name: 'replay',
    description: 'Move messages from DLQ.<queue> back to <queue> (re-sent with their headers, each ACKed from the DLQ after the broker confirmed the re-send)',
  },
  args: {
    queue,
    ...commonArgs,
    limit: { type: 'string', description: 'At most this many messages (default: all; with --id, the first 1,000 are looked through)' },
    id: { type: 'string', description: 'Only the message with this id (dop-msg-id or cap-msg-id); repeat or separate with commas' },
  },
  async run({ args }) {
    const options = { limit: positiveInteger('limit', args.limit), ids: ids(args.id), logger: defaultLogger('dlq') };
    const { config } = await commandConfig(args);
    const result = await replayDeadLetters(config, args.queue, options);
    process.stdout.write(outcome('replayed', result, deadLetterQueue(args.queue), args.queue));
  },
});

const purge = defineCommand({
  meta: { name: 'purge', description: 'Drop messages from DLQ.<queue> for good (needs --yes)' },
  args: {
    queue,
    ...commonArgs,
    id: { type: 'string', description: 'Only the message with this id (dop-msg-id or cap-msg-id); repeat or separate with commas' },
    limit: { type: 'string', description: 'At most this many messages (default: all)' },
    yes: { type: 'boolean', description: 'Yes, drop them: they cannot be recovered' },
  },
  async run({ args }) {
    const options = { limit: positiveInteger('limit', args.limit), ids: ids(args.id), logger: defaultLogger('dlq') };
    const dlq = deadLetterQueue(args.queue);
    if (!args.yes) {
      throw new OutboxError('E_USAGE', `purge drops ${options.ids ? 'those messages' : `every message in ${dlq}`} for good: add --yes (\`outbox dlq peek ${args.queue}\` shows them first)`);
    }
    const { config } = await commandConfig(args);
    const result = await purgeDeadLetters(config, args.queue, options);
    process.stdout.write(outcome('dropped', result, dlq));
  },
});

export default defineCommand({
  meta: { name: 'dlq', description: "A consumer queue's dead letters (DLQ.<queue>): peek, replay, purge" },
  subCommands: { peek, replay, purge },
});

import { defineCommand } from 'citty';
import { OutboxError } from '../errors.js';
import { commonArgs } from './common.js';

// Placeholder until its issue lands: it says so instead of pretending to work.
export default defineCommand({
  meta: { name: 'retry', description: 'not implemented yet' },
  args: { ...commonArgs },
  run() {
    throw new OutboxError('E_USAGE', 'outbox retry is not implemented yet');
  },
});

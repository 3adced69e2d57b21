/** `npm run demo` (the README's first command) works and says what happened. */
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('the demo relays every committed event once, on PGlite and the local RabbitMQ, and exits 0', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', DATABASE_URL: '' },
    timeout: 120_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  assert.is(r.status, 0, out);
  assert.match(out, /outbox now: 6 pending, 0 sent/);
  assert.match(out, /read back from RabbitMQ: 6 message\(s\)/);
  assert.match(out, /outbox now: 6 sent, 0 pending, 0 failed/);
  assert.match(out, /"status":"paid"/);
  assert.match(out, /Every committed event reached RabbitMQ once \(6\)/);
});

test.run();

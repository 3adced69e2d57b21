/**
 * scripts/services.sh changes the machine only after saying so (README "Quick start"). Run with a PATH
 * where RabbitMQ is not installed and apt-get is a stand-in that records its arguments and refuses: the
 * script announces the install, tries it, and stops with one line. Nothing on the machine is touched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('services.sh says it will apt-get install a missing service before it does', () => {
  const bin = mkdtempSync(join(tmpdir(), 'outbox-services-test-'));
  try {
    // What the script needs up to RabbitMQ, from this machine; no rabbitmqctl, no sudo.
    for (const tool of ['bash', 'env', 'id', 'ls', 'sort', 'tail', 'grep', 'sed', 'psql', 'sleep', 'hostname', 'basename', 'dirname', 'cat']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found) symlinkSync(found, join(bin, tool));
    }
    writeFileSync(join(bin, 'apt-get'), `#!/bin/bash\necho "$*" >> "${join(bin, 'apt-get.log')}"\n[ "$1" = update ] && exit 0\nexit 1\n`);
    chmodSync(join(bin, 'apt-get'), 0o755);
    // Not root and no sudo: as_root runs the command as is.
    writeFileSync(join(bin, 'id'), '#!/bin/bash\necho 1000\n');
    chmodSync(join(bin, 'id'), 0o755);
    const r = spawnSync(join(bin, 'bash'), ['scripts/services.sh'], { encoding: 'utf8', env: { PATH: bin, HOME: process.env.HOME ?? '/tmp' } });
    assert.is(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    const announce = lines.findIndex((l) => l === 'services: installing rabbitmq-server with apt-get (sudo)');
    assert.ok(announce >= 0, r.stderr);
    assert.ok(lines.findIndex((l) => l.startsWith('services: running apt-get update')) < announce, 'apt-get update is announced first');
    assert.is(lines[lines.length - 1], 'services: ERROR: apt-get install rabbitmq-server failed');
    assert.equal(readFileSync(join(bin, 'apt-get.log'), 'utf8').trim().split('\n'), ['update -qq', 'install -y -qq rabbitmq-server']);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('the README says so next to the commands', () => {
  const readme = readFileSync('README.md', 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('### Install'));
  assert.match(quickStart, /scripts\/services\.sh/);
  assert.match(quickStart, /apt-get install/);
  assert.match(quickStart, /`trust` authentication for 127\.0\.0\.1 to `pg_hba\.conf`/);
});

test.run();

/**
 * Runs every `test/**\/*.test.ts` in its own process (its own database, no shared state), one after
 * another since they share one broker, and ends with the plain line `N passed, N failed`.
 * A file that crashes, times out, or prints its summary but does not exit (a leaked socket, timer
 * or relay) counts as a failure: every test must clean up what it starts.
 *
 *   npm test                 # everything
 *   npm test -- stomp relay  # files whose path contains one of the words
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);
const EXIT_GRACE_MS = 5_000;

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'fixtures' || name === 'helpers' ? [] : findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

interface FileResult { passed: number; failed: number; skipped: number; note?: string }

function runFile(file: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let summaryAt = 0;
    let note: string | undefined;
    const kill = (why: string) => {
      note ??= why;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    };
    const onData = (chunk: Buffer, sink: NodeJS.WriteStream) => {
      const text = chunk.toString();
      out += text;
      sink.write(text);
      if (!summaryAt && /Duration:/.test(out)) {
        summaryAt = Date.now();
        setTimeout(() => kill(`did not exit within ${EXIT_GRACE_MS} ms of its summary: something was left running`), EXIT_GRACE_MS).unref();
      }
    };
    child.stdout.on('data', (c: Buffer) => onData(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => onData(c, process.stderr));
    const timer = setTimeout(() => kill(`timed out after ${FILE_TIMEOUT_MS} ms`), FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const num = (label: string) => {
        const all = [...out.matchAll(new RegExp(`${label}:\\s+(\\d+)`, 'g'))];
        return all.reduce((sum, m) => sum + Number(m[1]), 0);
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = total - passed - skipped;
      if (note) failed += 1;
      else if (code !== 0 && failed === 0) {
        failed = 1;
        note = `exited with code ${code}`;
      }
      if (total === 0 && !note) {
        failed = 1;
        note = 'ran no test';
      }
      resolve({ passed, failed, skipped, note });
    });
  });
}

const filters = process.argv.slice(2);
const files = findTests('test').filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
let passed = 0;
let failed = 0;
let skipped = 0;
const problems: string[] = [];
const started = Date.now();
for (const file of files) {
  const name = relative('.', file);
  console.log(`\n━━ ${name}`);
  const t0 = Date.now();
  const r = await runFile(file);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  console.log(`── ${name}: ${r.passed} passed, ${r.failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)${r.note ? ` — ${r.note}` : ''}`);
  if (r.failed) problems.push(`${name}${r.note ? `: ${r.note}` : ''}`);
}
console.log(`\n${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const p of problems) console.log(`FAILED ${p}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);

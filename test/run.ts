/**
 * Runs every `test/**\/*.test.ts` in its own process (its own database, unique queue names, no shared
 * state) and ends with the plain line `N passed, N failed`. A file that crashes, times out, or prints its
 * summary but does not exit (a leaked socket, timer or relay) counts as a failure: every test must clean up
 * what it starts.
 *
 * Files run TEST_CONCURRENCY at a time (default 3), except those with a `// @serial` line near the top:
 * they do something every other file would feel (restart or stop a service, close all broker
 * connections, kill processes a neighbour relies on, measure timing) and run alone, nothing beside them
 * but files marked `// @offline` (no database, no broker: they cannot feel a service restart), one at a
 * time and at a lower CPU priority, so that a serial file's timing is not what they slow down. Files
 * marked `// @long` (a minute or more) start first among the parallel ones, so that none of them is what
 * the run waits for at its end.
 * Output of a file running beside others is held and printed whole when it ends.
 *
 *   npm test                        # everything
 *   npm test -- stomp relay         # files whose path contains one of the words
 *   TEST_CONCURRENCY=1 npm test     # one file at a time
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);
const EXIT_GRACE_MS = 5_000;
const CONCURRENCY = Math.max(1, Number(process.env.TEST_CONCURRENCY) || 3);
// The marker is looked for in the file's opening lines only, so a test can mention it further down.
const SERIAL_MARKER = /^\/\/ @serial\b/m;
const OFFLINE_MARKER = /^\/\/ @offline\b/m;
const LONG_MARKER = /^\/\/ @long\b/m;
const HEAD_LINES = 30;

function findTests(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

const head = (file: string): string => readFileSync(file, 'utf8').split('\n', HEAD_LINES).join('\n');
const isSerial = (file: string): boolean => SERIAL_MARKER.test(head(file));
const isOffline = (file: string): boolean => OFFLINE_MARKER.test(head(file));
const isLong = (file: string): boolean => LONG_MARKER.test(head(file));

interface FileResult { passed: number; failed: number; skipped: number; note?: string }

/** What a file wrote, in order, to which stream. */
type Output = Array<[NodeJS.WriteStream, string]>;

const running = new Set<ChildProcess>();

function runFile(file: string, live: boolean, output: Output, niced: boolean): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    // Its children (tsc, drizzle-kit) inherit the priority.
    if (niced) try { setPriority(child.pid!, 10); } catch { /* not permitted: run at normal priority */ }
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
      if (live) sink.write(text);
      else output.push([sink, text]);
      if (!summaryAt && /Duration:/.test(out)) {
        summaryAt = Date.now();
        setTimeout(() => kill(`did not exit within ${EXIT_GRACE_MS} ms of its summary: something was left running`), EXIT_GRACE_MS).unref();
      }
    };
    child.stdout.on('data', (c: Buffer) => onData(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => onData(c, process.stderr));
    const timer = setTimeout(() => kill(`timed out after ${FILE_TIMEOUT_MS} ms`), FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      running.delete(child);
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

// Children have their own process groups (so a timeout can kill a file's whole tree): end them with us.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    for (const child of running) try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    process.exit(code);
  });
}

const filters = process.argv.slice(2);
const files = findTests('test').filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
const serial = files.filter(isSerial);
const parallel = files.filter((f) => !serial.includes(f));
let passed = 0;
let failed = 0;
let skipped = 0;
const problems: string[] = [];
const started = Date.now();

async function runOne(file: string, alone: boolean, niced = false): Promise<void> {
  const name = relative('.', file);
  const output: Output = [];
  // Alone, a file's output streams as it comes; beside others it is held so files do not interleave.
  console.log(alone ? `\n━━ ${name}${CONCURRENCY > 1 ? ' (alone)' : ''}` : `▸ started ${name}`);
  const t0 = Date.now();
  const r = await runFile(file, alone, output, niced);
  if (!alone) {
    console.log(`\n━━ ${name}`);
    for (const [sink, text] of output) sink.write(text);
  }
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  console.log(`── ${name}: ${r.passed} passed, ${r.failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)${r.note ? ` — ${r.note}` : ''}`);
  if (r.failed) problems.push(`${name}${r.note ? `: ${r.note}` : ''}`);
}

async function runParallel(queue: string[]): Promise<void> {
  const next = [...queue];
  const worker = async (): Promise<void> => {
    for (let file = next.shift(); file; file = next.shift()) await runOne(file, CONCURRENCY === 1);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, next.length) }, worker));
}

// The serial files go first. Either order costs the same — nothing overlaps a serial file but the offline
// files, so the total is their sum plus the parallel part's span (measured first: 316, 316, 398 s; last:
// 528, 615 s, but those two runs met a busier machine and someone else's broker restarts, so they prove
// nothing either way) — and first, the files likeliest to fail (faults, timing) report within the first
// minute, streaming as they go. The offline files (codegen's tsc runs, the fuzz: about 2 minutes) run
// beside them one at a time; whatever is left of them joins the parallel part.
const offline = CONCURRENCY > 1 ? parallel.filter(isOffline) : [];
const online = parallel.filter((f) => !offline.includes(f));
let serialDone = false;
const offlineLane = (async () => {
  while (!serialDone && offline.length > 0) await runOne(offline.shift()!, false, true);
})();
// With the offline lane beside them, serial files' output is held too, so the two never interleave.
for (const file of serial) await runOne(file, offline.length === 0);
serialDone = true;
await offlineLane;
const rest = [...offline, ...online];
await runParallel([...rest.filter(isLong), ...rest.filter((f) => !isLong(f))]);

console.log(`\n${files.length} files (${serial.length} alone, ${parallel.length} ${CONCURRENCY} at a time) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const p of problems) console.log(`FAILED ${p}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);

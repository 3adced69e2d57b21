/**
 * CPU time of the machine's other processes, by command name, read from /proc (Linux): what PostgreSQL's
 * backends and the broker spent while a figure ran. On a machine whose cores the bench shares with them, a
 * figure's ceiling is their CPU per message plus ours. Empty where /proc cannot be read.
 *
 * @example
 * const before = processCpu(['postgres', 'beam.smp']);
 * // … the measured run …
 * const spent = cpuSince(before); // Map { 'postgres' => 812, 'beam.smp' => 430 } (ms)
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime: USER_HZ, 100 on every Linux build in use. */
const TICKS_PER_S = 100;

export interface CpuSnapshot {
  names: string[];
  /** ms of user + system CPU, by pid, each with its command name. */
  byPid: Map<number, { name: string; ms: number }>;
}

export function processCpu(names: string[]): CpuSnapshot {
  const byPid = new Map<number, { name: string; ms: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return { names, byPid };
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name is in parentheses and may hold spaces: the fields after it start past the last ')'.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const name = stat.slice(open + 1, close);
    if (!names.includes(name)) continue;
    const fields = stat.slice(close + 2).split(' ');
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    byPid.set(Number(pid), { name, ms: (ticks * 1000) / TICKS_PER_S });
  }
  return { names, byPid };
}

/**
 * ms of CPU each name spent since `before`: processes that exited meanwhile count up to their last reading,
 * processes that started meanwhile from zero.
 */
export function cpuSince(before: CpuSnapshot): Map<string, number> {
  const now = processCpu(before.names);
  const spent = new Map<string, number>(before.names.map((n) => [n, 0]));
  for (const [pid, { name, ms }] of now.byPid) {
    const was = before.byPid.get(pid);
    spent.set(name, spent.get(name)! + ms - (was && was.name === name ? was.ms : 0));
  }
  return spent;
}

/**
 * Waits until the named processes are nearly idle (under `share` of one core over `windowMs`), or `maxMs`
 * passed: what they still do for the step before (RabbitMQ writing a prefilled queue to disk, a checkpoint)
 * is then not charged to the next figure. Resolves with whether they went quiet.
 */
export async function quiet(names: string[], { windowMs = 250, share = 0.05, maxMs = 15_000 } = {}): Promise<boolean> {
  const until = performance.now() + maxMs;
  while (performance.now() < until) {
    const before = processCpu(names);
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const spent = [...cpuSince(before).values()].reduce((a, b) => a + b, 0);
    if (spent <= windowMs * share) return true;
  }
  return false;
}

/** Reading the probe server of a CLI process: where it listens, and values out of the Prometheus text. */

/** Waits for the "serving /metrics … on http://host:port" line and returns that base URL. */
export async function probeAddress(p: { output(): string; waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void> }): Promise<string> {
  const pattern = /on (http:\/\/[\d.]+:\d+)/;
  await p.waitForOutput(pattern, 30_000);
  return pattern.exec(p.output())![1]!;
}

/**
 * The value of the sample `name` whose labels include `labels` (all of them, others ignored), summed over
 * the samples that match; undefined when none does.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

/**
 * The README's Quick start as data, for test/package/pack.test.ts to follow word for word: the files it
 * shows (a `name` line before a code block) and the commands of its `sh` blocks, in order.
 */
import { readFileSync } from 'node:fs';

export interface Section {
  /** File name → content, from "`name` — …:" or "`name`:" followed by a fenced block. */
  files: Map<string, string>;
  /** Every line of every `sh` block, comments removed, in order. */
  commands: string[];
}

/** The part of the README under `heading` (up to the next heading of the same or a higher level). */
export function readmeSection(readme: string, heading: string): string {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const start = lines.findIndex((l) => l === heading);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const level = heading.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The file a code block is, when the paragraph just before it starts with its name in backticks. */
function labelBefore(lines: string[], fenceAt: number): string | undefined {
  let end = fenceAt - 1;
  while (end >= 0 && lines[end]!.trim() === '') end--;
  if (end < 0 || !lines[end]!.trimEnd().endsWith(':')) return undefined;
  let start = end;
  while (start > 0 && lines[start - 1]!.trim() !== '') start--;
  return /^`([\w./-]+\.\w+)`/.exec(lines[start]!)?.[1];
}

export function parseSection(text: string): Section {
  const files = new Map<string, string>();
  const commands: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)$/.exec(lines[i]!);
    if (!fence) continue;
    const label = labelBefore(lines, i);
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    if (fence[1] === 'sh') {
      for (const l of body) {
        const command = l.replace(/\s+#.*$/, '').trim();
        if (command) commands.push(command);
      }
    } else if (label) {
      files.set(label, `${body.join('\n')}\n`);
    }
  }
  return { files, commands };
}

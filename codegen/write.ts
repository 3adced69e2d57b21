import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GeneratedFile } from './generate.js';

export interface WriteReport {
  written: string[];
  unchanged: string[];
}

/**
 * Writes generated files: each to a temporary sibling, then renamed over the target, so a reader (or a
 * crash) never sees half a file. A file whose content is already right is not touched (watchers stay
 * quiet). All temporaries are written before the first rename, so a full disk leaves the old files.
 */
export async function writeGenerated(files: readonly GeneratedFile[]): Promise<WriteReport> {
  const report: WriteReport = { written: [], unchanged: [] };
  const pending: Array<{ path: string; temp: string }> = [];
  try {
    for (const file of files) {
      const current = await readFile(file.path, 'utf8').catch(() => undefined);
      if (current === file.content) {
        report.unchanged.push(file.path);
        continue;
      }
      await mkdir(dirname(file.path), { recursive: true });
      const temp = `${file.path}.${process.pid}.tmp`;
      pending.push({ path: file.path, temp });
      await writeFile(temp, file.content);
    }
  } catch (error) {
    await Promise.all(pending.map((p) => rm(p.temp, { force: true })));
    throw error;
  }
  for (const { path, temp } of pending) {
    await rename(temp, path);
    report.written.push(path);
  }
  return report;
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OutboxError } from '../errors.js';
import type { OutboxConfig } from './types.js';

/** Looked for, in this order, in the working directory when there is no `--config`. */
export const CONFIG_FILES = ['outbox.config.ts', 'outbox.config.mts', 'outbox.config.js', 'outbox.config.mjs'];

/**
 * Imports a TypeScript or JavaScript module at run time (config files, consumer handlers).
 * jiti compiles TypeScript on the fly; plain JS goes through Node's own import.
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new OutboxError('E_LOAD', `${path}: no such file`);
  try {
    if (/\.(c|m)?ts$/.test(abs)) {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(import.meta.url, { interopDefault: false, moduleCache: true });
      return (await jiti.import(abs)) as Record<string, unknown>;
    }
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new OutboxError('E_LOAD', `${path}: cannot be loaded: ${(cause as Error).message?.split('\n')[0]}`, { cause });
  }
}

/** Finds and imports the config (its default export). Returns the path it used. */
export async function loadConfig(path?: string, cwd = process.cwd()): Promise<{ path: string; config: OutboxConfig }> {
  const file = path ?? CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  if (!file) {
    throw new OutboxError('E_LOAD', `no outbox.config.ts here (${cwd}); create one or pass --config <path>`);
  }
  const mod = await importModule(file);
  const config = (mod.default ?? mod.config) as OutboxConfig | undefined;
  if (!config || typeof config !== 'object') {
    throw new OutboxError('E_LOAD', `${file}: has no default export (export default defineConfig({ … }))`);
  }
  return { path: file, config };
}

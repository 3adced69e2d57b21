import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
  const viaJiti = async () => {
    const { createJiti } = await import('jiti');
    const jiti = createJiti(import.meta.url, { interopDefault: false, moduleCache: true });
    return (await jiti.import(abs)) as Record<string, unknown>;
  };
  try {
    if (/\.(c|m)?ts$/.test(abs)) return await viaJiti();
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (cause) {
    // Node's SyntaxError from import() has no line or column; jiti's parser says where (it throws again).
    const located = syntaxError(cause) ?? ((cause as Error)?.name === 'SyntaxError' ? await viaJiti().then(() => undefined, syntaxError) : undefined);
    if (located) throw new OutboxError('E_LOAD', located, { cause });
    throw new OutboxError('E_LOAD', `${path}: cannot be loaded: ${(cause as Error).message?.split('\n')[0]}`, { cause });
  }
}

/**
 * `file:line:column: syntax error: <what>` for a module (the config, or anything it imports) that does not
 * parse, so an editor can jump there. jiti puts the place on its message's second line
 * (`ParseError: Unexpected token \n /path/outbox.config.ts:2:25`); a SyntaxError thrown by Node at start-up
 * has `file:///path:line`, the source line and a caret under the column at the top of its stack.
 */
export function syntaxError(error: unknown): string | undefined {
  const e = error as { name?: string; message?: string; stack?: string } | undefined;
  const show = (file: string) => {
    const rel = relative(process.cwd(), file);
    return rel && !rel.startsWith('..') ? rel : file;
  };
  const jiti = /^(?:ParseError|SyntaxError): ([^\n]*?)\s*\n\s*(\S+?):(\d+):(\d+)\s*$/.exec(e?.message ?? '');
  if (jiti) return `${show(jiti[2]!)}:${jiti[3]}:${jiti[4]}: syntax error: ${jiti[1]}`;
  if (e?.name !== 'SyntaxError') return undefined;
  const node = /^(file:\/\/\S+|\/\S+):(\d+)\n(.*)\n( *)\^/.exec(e.stack ?? '');
  if (!node) return undefined;
  const file = node[1]!.startsWith('file:') ? fileURLToPath(node[1]!) : node[1]!;
  // Node reports an import of a name a module does not export as a SyntaxError too; it is not one.
  const what = /does not provide an export named/.test(e.message ?? '') ? e.message : `syntax error: ${e.message}`;
  return `${show(file)}:${node[2]}:${node[4]!.length + 1}: ${what}`;
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

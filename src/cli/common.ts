import type { ArgsDef } from 'citty';
import { loadConfig } from '../config/load.js';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { OutboxConfig } from '../config/types.js';

/** Arguments every command takes. */
export const commonArgs = {
  config: { type: 'string', description: 'Path to outbox.config.ts (default: ./outbox.config.{ts,mts,js,mjs})' },
} as const satisfies ArgsDef;

/** Loads and resolves the config a command was pointed at. */
export async function commandConfig(args: { config?: string }): Promise<{ path: string; raw: OutboxConfig; config: ResolvedConfig }> {
  const { path, config: raw } = await loadConfig(args.config);
  return { path, raw, config: resolveConfig(raw) };
}

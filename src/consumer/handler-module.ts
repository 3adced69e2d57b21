import { importModule } from '../config/load.js';
import type { OutboxDb } from '../db/types.js';
import { OutboxError } from '../errors.js';
import type { Handler } from './types.js';

/** A handler loaded from `path/to/module.ts#exportName`, and the module's own `db` export if it has one. */
export interface LoadedHandler {
  handler: Handler;
  /** The module's `export const db` (a Drizzle database), so consumer and handler share one pool. */
  db?: OutboxDb;
  /** `module.ts#name`, for logs. */
  name: string;
}

/**
 * Loads `<path>#<export>` (the default export without `#`), TypeScript included (jiti).
 * Every mistake is one `E_LOAD` line: no such file, does not load, no such export, not a function.
 */
export async function loadHandler(spec: string): Promise<LoadedHandler> {
  const hash = spec.lastIndexOf('#');
  const path = hash >= 0 ? spec.slice(0, hash) : spec;
  const exportName = hash >= 0 ? spec.slice(hash + 1) : 'default';
  if (!path) throw new OutboxError('E_LOAD', `"${spec}" names no module: write path/to/module.ts#exportName`);
  if (!exportName) throw new OutboxError('E_LOAD', `"${spec}" names no export after #`);
  const mod = await importModule(path);
  const handler = mod[exportName];
  if (handler === undefined) {
    const named = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    const hint = named.length ? ` (its function exports: ${named.join(', ')})` : '';
    throw new OutboxError('E_LOAD', `${path} has no ${exportName === 'default' ? 'default export' : `export "${exportName}"`}${hint}`);
  }
  if (typeof handler !== 'function') {
    throw new OutboxError('E_LOAD', `${path}#${exportName} is a ${typeof handler}, not a handler function`);
  }
  const db = mod.db;
  const isDb = !!db && typeof (db as OutboxDb).transaction === 'function' && typeof (db as OutboxDb).select === 'function';
  return { handler: handler as Handler, db: isDb ? (db as OutboxDb) : undefined, name: `${path}#${exportName}` };
}

/**
 * Optional peer dependencies (README "Install"): PGlite for the embedded database, ts-morph for
 * `outbox generate`. A production relay or consumer needs neither, so neither is installed with the package;
 * whoever needs one is told, in one line, which and how to get it.
 */
import { OutboxError } from '../errors.js';

/** Imports `name` for `purpose`; E_LOAD saying how to install it when it is not there. */
export async function importOptional<T>(name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(name)) {
      throw new OutboxError('E_LOAD', `${purpose} needs ${name}, which is not installed: npm install ${name}`, { cause: error });
    }
    throw error;
  }
}

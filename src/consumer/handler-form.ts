/**
 * Which form a handler is written in (README "Handlers: who opens the transaction"), decided once, from
 * what the handler itself declares: `(payload, { tx })` — two parameters or more — is run inside a
 * transaction the consumer opens; `(payload)` opens its own. The declaration is the one place that cannot
 * drift from the handler's body, and the CLI, which only gets a function, has nowhere else to read it.
 *
 * A declaration can hide its second parameter: a default value (`(p, ctx = {})`), a rest parameter or a
 * wrapper (`(...args) => fn(...args)`) count fewer parameters. Such a handler would be run in the
 * `(payload)` form and get no transaction — so in that form its context's `tx` is a getter that throws
 * `E_CONFIG` naming the fix, and the consumer stops on that error instead of dead-lettering every message.
 * The other way round is harmless: a `(payload)` handler that declares a second parameter saves and commits
 * in its own transaction, and the consumer's then finds its inbox row committed and ACKs.
 */
import { OutboxError } from '../errors.js';
import type { Handler, HandlerContext, HandlerForm } from './types.js';

export function handlerForm(handler: Handler<any>, explicit?: HandlerForm): HandlerForm {
  if (explicit !== undefined) {
    if (explicit !== 'consumer' && explicit !== 'handler') {
      throw new OutboxError('E_CONFIG', `createConsumer: transaction must be 'consumer' or 'handler', got ${JSON.stringify(explicit)}`);
    }
    return explicit;
  }
  return handler.length >= 2 ? 'consumer' : 'handler';
}

const misjudged = new WeakSet<object>();

/** True for the error a `(payload)`-form context throws when its `tx` is read. */
export const isMisjudgedForm = (error: unknown): boolean => typeof error === 'object' && error !== null && misjudged.has(error);

/** The context a `(payload)`-form handler gets: a signal, and a `tx` that says why there is none. */
export function contextWithoutTransaction(handler: Handler<any>, signal: () => AbortSignal): HandlerContext {
  return {
    get signal() {
      return signal();
    },
    get tx(): never {
      const error = new OutboxError(
        'E_CONFIG',
        `the handler ${handler.name || '(anonymous)'} reads { tx }, but declares ${handler.length} parameter(s), so the consumer ` +
          'took it for the (payload) form, which opens its own transaction. Declare both parameters — (payload, { tx }) — ' +
          "without a default value or a rest parameter, or pass transaction: 'consumer' to createConsumer",
      );
      misjudged.add(error);
      throw error;
    },
  };
}

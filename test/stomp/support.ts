/** Shared by the STOMP tests: a resolved broker config for the local RabbitMQ, with test-sized timeouts. */
import { resolveConfig, type ResolvedBroker } from '../../src/config/resolve.js';
import type { StompMessage } from '../../src/stomp/types.js';

export function testBroker(overrides: Partial<ResolvedBroker> = {}): ResolvedBroker {
  return { ...resolveConfig({}, {}).broker, connectTimeout: 5, receiptTimeout: 10, maxBackoff: 0.2, ...overrides };
}

/** Collects messages and resolves `next(n)` once n have arrived. */
export function inbox() {
  const messages: StompMessage[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    messages,
    push(m: StompMessage) {
      messages.push(m);
      waiters = waiters.filter((w) => (messages.length >= w.n ? (w.resolve(), false) : true));
    },
    until(n: number, timeoutMs = 10_000): Promise<StompMessage[]> {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${n} messages arrived`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(messages)) });
      });
    },
  };
}

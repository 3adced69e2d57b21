/** Shared by the STOMP tests: a resolved broker config for the local RabbitMQ, with test-sized timeouts. */
import { execFile } from 'node:child_process';
import { resolveConfig, type ResolvedBroker } from '../../src/config/resolve.js';
import type { StompMessage } from '../../src/stomp/types.js';
import { rabbitmqctl, uniqueName } from '../helpers/broker.js';

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

/**
 * A vhost of its own, so `close_all_connections -p` drops only this test's connections (other test files
 * and other processes share the broker). Delete it at the end: its queues go with it.
 */
export function createVhost(prefix = 'stomp-test'): { vhost: string; closeConnections(reason?: string): Promise<void>; drop(): void } {
  const vhost = uniqueName(prefix);
  rabbitmqctl('add_vhost', vhost);
  rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  return {
    vhost,
    closeConnections: (reason = 'test: broker drops the connection') =>
      // Async: a blocking call would freeze the event loop the test is measuring.
      new Promise((resolve, reject) =>
        execFile('rabbitmqctl', ['-q', 'close_all_connections', '-p', vhost, reason], (error) => (error ? reject(error) : resolve())),
      ),
    drop: () => {
      try {
        rabbitmqctl('delete_vhost', vhost);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Settles every promise and sorts the outcomes. */
export async function settle(promises: Promise<unknown>[]): Promise<{ ok: number; errors: unknown[] }> {
  const results = await Promise.allSettled(promises);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  return { ok: results.length - errors.length, errors };
}

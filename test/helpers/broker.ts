/** Helpers around the real RabbitMQ: exact queue counts and clean-up via rabbitmqctl. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const STOMP_HOST = '127.0.0.1';
export const STOMP_PORT = 61613;
/** ActiveMQ Classic's STOMP connector (scripts/services.sh). */
export const ACTIVEMQ_PORT = 61614;

/** A queue/routing-key name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function rabbitmqctl(...args: string[]): string {
  return execFileSync('rabbitmqctl', ['-q', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Messages ready in a queue (exact; undefined if the queue does not exist). */
export function queueDepth(queue: string): number | undefined {
  const out = rabbitmqctl('list_queues', 'name', 'messages', '--no-table-headers');
  for (const line of out.split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name === queue) return Number(count);
  }
  return undefined;
}

export function deleteQueue(queue: string): void {
  try {
    rabbitmqctl('delete_queue', queue);
  } catch {
    /* already gone */
  }
}

/** Drops every client connection, as a broker blink would. */
export function closeAllConnections(reason = 'test: closing connections'): void {
  rabbitmqctl('close_all_connections', reason);
}

export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`waitFor timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

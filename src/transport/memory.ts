/**
 * An in-process broker with the Publisher contract, for tests of what sits above the transport seam (the
 * relay) without a real broker, and as the reference the conformance suite holds every transport to.
 * It behaves as RabbitMQ does where the relay's logic depends on it: confirmations come in send order; a
 * refused destination ends the whole connection with an ERROR that names its queue or exchange; a blocked
 * broker (a resource alarm) takes sends but confirms nothing until unblocked.
 *
 * @example
 * const broker = createMemoryBroker();
 * const relay = createRelay({ db, config, connect: broker.connect });
 * broker.refuse('/queue/billing');
 */
import { OutboxError } from '../errors.js';
import type { Connector, Publisher } from './types.js';
import { monotonicMs } from '../util/clock.js';

export interface MemoryMessage {
  destination: string;
  body: string;
  headers: Record<string, string>;
}

export interface MemoryBroker {
  /** Opens a connection (at once, or rejects E_CONNECT while `down`). */
  connect: Connector<Publisher>;
  /** Messages confirmed so far to `destination` (every destination when omitted), in order. */
  messages(destination?: string): MemoryMessage[];
  /** From now on a send to `destination` (a /queue/, /amq/queue/ or /exchange/ one) ends its connection. */
  refuse(destination: string): void;
  accept(destination: string): void;
  /** Sends to `destination` are taken but never confirmed: each connection that carries one times out. */
  stall(destination: string): void;
  /** Resource alarm: sends are taken but not confirmed until `unblock()`. */
  block(): void;
  unblock(): void;
  /** Ends every open connection, as an operator's `close_all_connections` does. */
  closeAll(): void;
  /** While true, connecting fails with E_CONNECT (the broker is down). */
  down: boolean;
  /** Connections opened so far. */
  readonly connections: number;
}

/** The queue or exchange a RabbitMQ error would name for a destination. */
function brokerName(destination: string): string {
  const parts = destination.split('/').filter(Boolean);
  if (parts[0] === 'amq' && parts[1] === 'queue') return `queue '${parts[2]}'`;
  if (parts[0] === 'exchange') return `exchange '${parts[1]}'`;
  return `queue '${parts[parts.length - 1]}'`;
}

export interface MemoryBrokerOptions {
  /** A send not confirmed within this ends its connection with E_RECEIPT_TIMEOUT, as STOMP's does. Default 30 s. */
  receiptTimeoutMs?: number;
}

export function createMemoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  const receiptTimeoutMs = options.receiptTimeoutMs ?? 30_000;
  const delivered: MemoryMessage[] = [];
  const refused = new Set<string>();
  const stalled = new Set<string>();
  const open = new Set<(reason: OutboxError) => void>();
  let blocked = false;
  const unblockWaiters = new Set<() => void>();
  let connections = 0;

  const broker: MemoryBroker = {
    down: false,
    connect: async (signal) => {
      if (signal.aborted) throw new OutboxError('E_ABORTED', 'connecting to the broker was aborted');
      if (broker.down) throw new OutboxError('E_CONNECT', 'memory broker: connection refused');
      connections++;
      return openConnection(`memory:${connections}`);
    },
    messages: (destination) => delivered.filter((m) => destination === undefined || m.destination === destination),
    refuse: (destination) => void refused.add(destination),
    accept: (destination) => {
      refused.delete(destination);
      stalled.delete(destination);
    },
    stall: (destination) => void stalled.add(destination),
    block() {
      blocked = true;
    },
    unblock() {
      blocked = false;
      for (const wake of [...unblockWaiters]) wake();
    },
    closeAll() {
      for (const close of [...open]) close(new OutboxError('E_CONNECTION_CLOSED', 'memory broker: connection closed by an operator'));
    },
    get connections() {
      return connections;
    },
  };

  function openConnection(address: string): Publisher {
    let ended = false;
    let resolveClosed!: (reason: OutboxError | undefined) => void;
    const closed = new Promise<OutboxError | undefined>((resolve) => (resolveClosed = resolve));
    const pending = new Set<{ reject(error: OutboxError): void }>();
    // Sends are handled one after another, as a broker reads them off one socket.
    let queue: Promise<void> = Promise.resolve();

    function end(reason: OutboxError | undefined): void {
      if (ended) return;
      ended = true;
      open.delete(end);
      const failure = reason ?? new OutboxError('E_CONNECTION_CLOSED', `${address} is closed`);
      for (const p of [...pending]) p.reject(failure);
      pending.clear();
      resolveClosed(reason);
    }
    open.add(end);

    const connection: Publisher = {
      address,
      closed,
      send(destination, body, options) {
        if (ended) return Promise.reject(new OutboxError('E_CONNECTION_CLOSED', `${address} is closed`));
        return new Promise<void>((resolve, reject) => {
          const entry = { reject };
          pending.add(entry);
          // Confirms come in order: one overdue means the connection is dead (see src/stomp/receipts.ts).
          const timer = setTimeout(() => end(new OutboxError('E_RECEIPT_TIMEOUT', `no confirmation for a send to ${destination} within ${receiptTimeoutMs / 1000} s`)), receiptTimeoutMs);
          timer.unref();
          const settle = (): void => clearTimeout(timer);
          void closed.then(settle);
          queue = queue.then(async () => {
            await new Promise((r) => setImmediate(r));
            if (stalled.has(destination)) return new Promise<void>(() => {});
            while (blocked && !ended) await new Promise<void>((wake) => unblockWaiters.add(wake)).finally(() => unblockWaiters.clear());
            if (ended || !pending.has(entry)) return;
            if (refused.has(destination)) {
              end(new OutboxError('E_BROKER_ERROR', `${address} sent ERROR: PRECONDITION_FAILED - refused ${brokerName(destination)} in vhost '/'`));
              return;
            }
            pending.delete(entry);
            settle();
            const text = typeof body === 'string' ? body : body.toString('utf8');
            delivered.push({ destination, body: text, headers: { ...options?.headers } });
            resolve();
          });
        });
      },
      async disconnect(timeoutSeconds = 30) {
        const deadline = monotonicMs() + timeoutSeconds * 1000;
        while (pending.size > 0 && !ended && monotonicMs() < deadline) await new Promise((r) => setTimeout(r, 1));
        end(undefined);
      },
      destroy(reason) {
        end(reason ?? new OutboxError('E_CONNECTION_CLOSED', `${address} was destroyed`));
      },
    };
    return connection;
  }

  return broker;
}

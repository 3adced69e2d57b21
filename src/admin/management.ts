/**
 * The little `outbox doctor` reads from RabbitMQ's management API (the rabbitmq_management plugin): the
 * bindings and queues of the vhost. STOMP cannot list them. URL: `OUTBOX_RABBITMQ_MANAGEMENT_URL`, else
 * `http://<first broker host>:15672`; credentials from that URL, else the broker's login and passcode.
 */
import type { ResolvedConfig } from '../config/resolve.js';

export interface Binding {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
}

export interface Management {
  /** Where it is read from, without credentials. */
  readonly url: string;
  /** Bindings and queue names of the configured vhost; rejects with a one-line reason. */
  read(): Promise<{ bindings: Binding[]; queues: string[] }>;
}

/** How long the API gets to answer, ms. */
const TIMEOUT_MS = 3000;

export function createManagement(config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): Management {
  const raw = env.OUTBOX_RABBITMQ_MANAGEMENT_URL || `http://${config.broker.hosts[0]!.host}:15672`;
  const url = new URL(raw);
  const login = url.username ? decodeURIComponent(url.username) : config.broker.login;
  const passcode = url.username ? decodeURIComponent(url.password) : config.broker.passcode;
  url.username = '';
  url.password = '';
  const base = url.toString().replace(/\/$/, '');
  const vhost = encodeURIComponent(config.broker.vhost);
  const authorization = `Basic ${Buffer.from(`${login}:${passcode}`).toString('base64')}`;

  async function get<T>(path: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { headers: { authorization }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`the RabbitMQ management API does not answer at ${base} (${cause?.code ?? cause?.message ?? (error as Error).message})`);
    }
    if (response.status === 401) throw new Error(`the RabbitMQ management API at ${base} refused login ${login} (401: it needs the management or monitoring tag)`);
    if (!response.ok) throw new Error(`the RabbitMQ management API at ${base} answered ${response.status} for ${path}`);
    return (await response.json()) as T;
  }

  return {
    url: base,
    async read() {
      const bindings = await get<Binding[]>(`/api/bindings/${vhost}`);
      const queues = await get<Array<{ name: string }>>(`/api/queues/${vhost}?columns=name`);
      return { bindings, queues: queues.map((q) => q.name) };
    },
  };
}

/**
 * Whether a topic binding key matches a routing key (RabbitMQ's rules: words split by `.`, `*` is exactly
 * one word, `#` zero or more).
 */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') {
      for (let skip = j; skip <= k.length; skip++) if (match(i + 1, skip)) return true;
      return false;
    }
    return j < k.length && (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

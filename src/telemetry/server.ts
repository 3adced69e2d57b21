/**
 * The small HTTP server of `outbox relay --metrics <host:port>` and `outbox consume … --metrics`:
 *
 *   GET /metrics  the Prometheus text exposition of the OpenTelemetry metrics (README "Telemetry")
 *   GET /healthz  200 while the process runs its loop (liveness)
 *   GET /readyz   200 while connected to the database and the broker, else 503 and the reason in one line
 *
 * The exposition is @opentelemetry/exporter-prometheus as a reader of an SDK MeterProvider registered
 * globally (so the library's own instruments, created on the API, land there). It and the SDK are optional
 * peer dependencies: a process without `--metrics` never loads them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { OutboxError } from '../errors.js';
import { importOptional } from '../util/optional.js';
import { healthProblem } from './health.js';

export interface ProbeServer {
  /** Where it listens (`host:port`, the port resolved when 0 was asked for). */
  readonly address: string;
  /** Stops listening and shuts the metrics reader down. Idempotent. */
  close(): Promise<void>;
}

export interface ProbeOptions {
  /** `host:port`, `:port` or `port`. */
  listen: string;
  /** True while the process runs its loop. */
  live(): boolean;
  /** Checks the database (the broker is the health board's): a problem in one line, or null. */
  database(): Promise<string | null>;
}

const PEERS = '@opentelemetry/api @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus';

/** `host:port` → its parts; E_USAGE naming the option when it is not one. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new OutboxError('E_USAGE', `--metrics takes host:port (e.g. 0.0.0.0:9464), not "${value}"`);
  return { host: m[1] || '0.0.0.0', port };
}

export async function startProbeServer(options: ProbeOptions): Promise<ProbeServer> {
  const { host, port } = parseListen(options.listen);
  const why = `--metrics (OUTBOX_METRICS) needs ${PEERS}`;
  const load = <T>(name: string, fn: () => Promise<T>) =>
    importOptional(name, '--metrics', fn).catch((error: unknown) => {
      throw error instanceof OutboxError && error.code === 'E_LOAD' ? new OutboxError('E_LOAD', `${why}: npm install ${PEERS}`, { cause: error }) : error;
    });
  const api = await load('@opentelemetry/api', () => import('@opentelemetry/api'));
  const sdk = await load('@opentelemetry/sdk-metrics', () => import('@opentelemetry/sdk-metrics'));
  const { PrometheusExporter } = await load('@opentelemetry/exporter-prometheus', () => import('@opentelemetry/exporter-prometheus'));

  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new sdk.MeterProvider({ readers: [exporter] });
  // An application that registered its own provider keeps it; the exporter then reads only ours (empty).
  if (!api.metrics.setGlobalMeterProvider(provider)) {
    throw new OutboxError('E_CONFIG', '--metrics: a global OpenTelemetry MeterProvider is registered already; export from it instead');
  }

  async function ready(): Promise<string | null> {
    return (await options.database()) ?? healthProblem();
  }

  function reply(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`${text}\n`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'GET only');
    if (path === '/metrics') return exporter.getMetricsRequestHandler(req, res);
    if (path === '/healthz') return options.live() ? reply(res, 200, 'ok') : reply(res, 503, 'not running');
    if (path === '/readyz') {
      ready().then(
        (problem) => (problem ? reply(res, 503, problem) : reply(res, 200, 'ready')),
        (error: unknown) => reply(res, 503, `readiness check failed: ${(error as Error)?.message ?? String(error)}`),
      );
      return;
    }
    reply(res, 404, 'not found: /metrics, /healthz, /readyz');
  });
  // A probe must never keep a finished process alive.
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new OutboxError('E_CONFIG', `--metrics: cannot listen on ${host}:${port} (${error.message})`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? `${host}:${bound.port}` : `${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () =>
      (closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await provider.shutdown().catch(() => {});
        api.metrics.disable();
      })()),
  };
}

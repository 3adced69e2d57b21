/**
 * What `outbox relay` and `outbox consume` share for operators: `--log-format` (or `OUTBOX_LOG_FORMAT`)
 * and `--metrics <host:port>` (or `OUTBOX_METRICS`), the probe server with /metrics, /healthz and /readyz
 * (README "Telemetry").
 */
import type { ArgsDef } from 'citty';
import { sql } from 'drizzle-orm';
import type { OutboxDb } from '../db/types.js';
import { describeDbError } from '../db/errors.js';
import { OutboxError } from '../errors.js';
import { LOG_FORMATS, setLogFormat, type LogFormat, type Logger } from '../log/logger.js';
import { startProbeServer, type ProbeServer } from '../telemetry/server.js';
import { TIMED_OUT, within } from '../util/within.js';

export const telemetryArgs = {
  metrics: {
    type: 'string',
    description: 'Serve /metrics (Prometheus), /healthz and /readyz on host:port, e.g. 0.0.0.0:9464 (needs the OpenTelemetry packages; env OUTBOX_METRICS)',
  },
  'log-format': { type: 'string', description: 'text (default) or json: one JSON object a line (env OUTBOX_LOG_FORMAT)' },
} as const satisfies ArgsDef;

/** Chooses the log format before the first logger is made; E_USAGE for anything but text or json. */
export function applyLogFormat(args: { 'log-format'?: string }): void {
  const value = args['log-format'] ?? process.env.OUTBOX_LOG_FORMAT;
  if (value === undefined || value === '') return;
  if (!LOG_FORMATS.includes(value as LogFormat)) {
    const where = args['log-format'] !== undefined ? '--log-format' : 'OUTBOX_LOG_FORMAT';
    throw new OutboxError('E_USAGE', `${where} takes text or json, not "${value}"`);
  }
  setLogFormat(value as LogFormat);
}

/** How long /readyz waits for `select 1`. */
const DATABASE_CHECK_MS = 2_000;

/**
 * Starts the probe server when asked for; `live` turns /healthz on until `stopped()`. Before the relay or
 * consumer is made: the instruments they create must find the SDK's MeterProvider registered.
 */
export async function startProbes(
  args: { metrics?: string },
  options: { db: OutboxDb; logger: Logger },
): Promise<{ running(): void; stopped(): Promise<void> }> {
  const listen = args.metrics ?? (process.env.OUTBOX_METRICS || undefined);
  if (!listen) return { running() {}, stopped: async () => {} };
  let live = false;
  const server: ProbeServer = await startProbeServer({
    listen,
    live: () => live,
    async database() {
      try {
        const answered = await within(options.db.execute(sql`select 1`), { ms: DATABASE_CHECK_MS });
        return answered === TIMED_OUT ? `the database did not answer within ${DATABASE_CHECK_MS / 1000} s` : null;
      } catch (error) {
        return `cannot reach the database (${describeDbError(error)})`;
      }
    },
  });
  options.logger.info(`serving /metrics, /healthz and /readyz on http://${server.address}`);
  return {
    running: () => void (live = true),
    async stopped() {
      live = false;
      await server.close();
    },
  };
}

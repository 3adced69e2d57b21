/**
 * The environment variables each command reads, for its `--help` (README "Environment" has the same list).
 */

/** Every variable the CLI reads, with what it does. */
export const VARIABLES = {
  DATABASE_URL: 'postgres://…; wins over database.url',
  OUTBOX_BROKER_URL: 'stomp://user:pass@host:61613/vhost (stomp+ssl:// for TLS, comma-separated for failover); wins over broker',
  OUTBOX_RABBITMQ_MANAGEMENT_URL: 'the RabbitMQ management API doctor reads bindings from (default http://<first broker host>:15672)',
  OUTBOX_LOG_LEVEL: '0 silent … 3 info (default) … 4 debug',
  OUTBOX_LOG_FORMAT: 'text (default) or json: one JSON object a line; --log-format wins',
  OUTBOX_METRICS: 'host:port to serve /metrics, /healthz, /readyz on; --metrics wins',
  OUTBOX_DEBUG: '1: print the stack of a fatal error',
  NO_COLOR: '1: never colour (colour is used only on a terminal)',
  FORCE_COLOR: '1: colour even when the output is not a terminal',
} as const;

export type Variable = keyof typeof VARIABLES;

const database: Variable[] = ['DATABASE_URL'];
const broker: Variable[] = ['OUTBOX_BROKER_URL'];
const always: Variable[] = ['OUTBOX_DEBUG', 'NO_COLOR', 'FORCE_COLOR'];

/** Per command (by its path: `dlq peek`), the variables it reads. */
export const COMMAND_VARIABLES: Record<string, Variable[]> = {
  generate: [...always],
  migrate: [...database, ...always],
  relay: [...database, ...broker, 'OUTBOX_LOG_LEVEL', 'OUTBOX_LOG_FORMAT', 'OUTBOX_METRICS', ...always],
  consume: [...database, ...broker, 'OUTBOX_LOG_LEVEL', 'OUTBOX_LOG_FORMAT', 'OUTBOX_METRICS', ...always],
  status: [...database, ...always],
  failed: [...database, ...always],
  retry: [...database, ...always],
  dlq: [...broker, ...always],
  'dlq peek': [...broker, ...always],
  'dlq replay': [...broker, ...always],
  'dlq purge': [...broker, ...always],
  doctor: [...database, ...broker, 'OUTBOX_RABBITMQ_MANAGEMENT_URL', ...always],
};

/** The ENVIRONMENT section of a command's help; the top level lists every variable. */
export function environmentHelp(path: string[]): string {
  const names = path.length === 0 ? (Object.keys(VARIABLES) as Variable[]) : (COMMAND_VARIABLES[path.join(' ')] ?? always);
  const width = Math.max(...names.map((n) => n.length));
  return ['ENVIRONMENT', '', ...names.map((n) => `  ${n.padEnd(width)}  ${VARIABLES[n]}`)].join('\n');
}

import { OutboxError } from '../errors.js';
import type { BrokerConfig } from './types.js';

/**
 * Parses `OUTBOX_BROKER_URL`: `stomp://user:pass@host:port/vhost`, `stomp+ssl://…` for TLS,
 * several comma-separated for failover (credentials and vhost are taken from the first).
 * An empty path means vhost `/`; `%2F` is a literal `/`.
 */
export function parseBrokerUrl(value: string): BrokerConfig {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new OutboxError('E_CONFIG', 'OUTBOX_BROKER_URL is empty');
  const hosts: BrokerConfig['hosts'] = [];
  let first: URL | undefined;
  let tls = false;
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new OutboxError('E_CONFIG', `OUTBOX_BROKER_URL: "${redact(part)}" is not a URL (expected stomp://user:pass@host:61613/vhost)`);
    }
    if (url.protocol !== 'stomp:' && url.protocol !== 'stomp+ssl:') {
      throw new OutboxError('E_CONFIG', `OUTBOX_BROKER_URL: scheme must be stomp:// or stomp+ssl://, got ${url.protocol}//`);
    }
    tls ||= url.protocol === 'stomp+ssl:';
    hosts.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 61613 });
    first ??= url;
  }
  const config: BrokerConfig = { hosts };
  if (first!.username) config.login = decodeURIComponent(first!.username);
  if (first!.password) config.passcode = decodeURIComponent(first!.password);
  const path = first!.pathname.replace(/^\//, '');
  config.vhost = path === '' ? '/' : decodeURIComponent(path);
  // The scheme decides: stomp:// is plain even when the file configures TLS (see resolveConfig).
  config.tls = tls;
  return config;
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

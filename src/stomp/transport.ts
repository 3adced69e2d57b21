/** Opens the TCP or TLS socket to one broker host. Verification of the broker's certificate is on by default. */
import net from 'node:net';
import tls from 'node:tls';
import type { BrokerHost, BrokerTls } from '../config/types.js';

export interface Dialed {
  socket: net.Socket;
  /** The event that means "ready for CONNECT": after the TLS handshake for TLS. */
  readyEvent: 'connect' | 'secureConnect';
}

export function dial(host: BrokerHost, options: BrokerTls | false): Dialed {
  if (!options) return { socket: net.connect({ host: host.host, port: host.port }), readyEvent: 'connect' };
  const socket = tls.connect({
    host: host.host,
    port: host.port,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    passphrase: options.passphrase,
    // Node sends SNI and checks the certificate against `host` unless told otherwise (and never SNI for an IP).
    ...(options.servername !== undefined && { servername: options.servername }),
    ...(options.minVersion !== undefined && { minVersion: options.minVersion }),
    ...(options.checkServerIdentity !== undefined && { checkServerIdentity: options.checkServerIdentity }),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  });
  return { socket, readyEvent: 'secureConnect' };
}

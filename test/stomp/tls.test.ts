/** TLS: the broker's certificate is verified by default; CA, servername and a client certificate work. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { OutboxError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import type { BrokerTls } from '../../src/config/types.js';
import { startFakeStompServer, type FakeStompServer } from '../helpers/fake-stomp-server.js';
import { testBroker } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'stomp-tls-'));
function selfSigned(name: string, cn: string, passphrase?: string): { cert: Buffer; key: Buffer } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', `subjectAltName=DNS:${cn}`,
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`),
    ...(passphrase ? ['-passout', `pass:${passphrase}`] : ['-nodes']),
  ], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}
const serverCert = selfSigned('server', 'localhost');
const clientCert = selfSigned('client', 'outbox-client', 'client-pw');

let fake: FakeStompServer;
const clientNames: string[] = [];
test.before(async () => {
  fake = await startFakeStompServer(
    async (peer) => {
      const cert = (peer.socket as TLSSocket).getPeerCertificate();
      clientNames.push(String(cert?.subject?.CN ?? ''));
      await peer.expect('CONNECT');
      peer.connected();
    },
    { tls: { cert: serverCert.cert, key: serverCert.key, requestCert: true, rejectUnauthorized: false } },
  );
});
test.after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const attempt = async (tls: BrokerTls) => {
  try {
    const session = await connect({ broker: testBroker({ hosts: [fake.host], heartbeat: [0, 0], tls }), logger: silentLogger });
    session.destroy();
    return 'connected';
  } catch (e) {
    return e instanceof OutboxError ? e.code : String(e);
  }
};

test('verification is on by default: a self-signed broker is refused with E_CONNECT', async () => {
  assert.is(await attempt({}), 'E_CONNECT');
});

test('with its CA and the name on the certificate, it connects', async () => {
  assert.is(await attempt({ ca: serverCert.cert, servername: 'localhost' }), 'connected');
});

test('the right CA but the wrong name is still refused', async () => {
  assert.is(await attempt({ ca: serverCert.cert }), 'E_CONNECT', '127.0.0.1 is not on the certificate');
  assert.is(await attempt({ ca: serverCert.cert, servername: 'evil.example' }), 'E_CONNECT');
});

test('checkServerIdentity and rejectUnauthorized are passed through', async () => {
  assert.is(await attempt({ ca: serverCert.cert, checkServerIdentity: () => undefined }), 'connected');
  assert.is(await attempt({ rejectUnauthorized: false }), 'connected');
  assert.is(await attempt({ ca: serverCert.cert, servername: 'localhost', minVersion: 'TLSv1.3' }), 'connected');
});

test('a client certificate with an encrypted key is presented to the broker', async () => {
  clientNames.length = 0;
  assert.is(await attempt({ ca: serverCert.cert, servername: 'localhost', cert: clientCert.cert, key: clientCert.key, passphrase: 'client-pw' }), 'connected');
  assert.equal(clientNames, ['outbox-client']);
  assert.is(await attempt({ ca: serverCert.cert, servername: 'localhost', cert: clientCert.cert, key: clientCert.key, passphrase: 'wrong' }), 'E_CONNECT');
});

test.run();

// @offline: no database, no broker
/**
 * One validation pass (resolveConfig): unknown keys are named with the key they are closest to, every setting
 * is checked as the runtime will use it, and each mistake is an E_CONFIG whose message starts with the key path.
 * Needs no services.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest } from '../src/config/keys.js';
import { resolveConfig } from '../src/config/resolve.js';
import { validateConfig } from '../src/config/validate.js';
import { OutboxError } from '../src/errors.js';

function configError(config: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveConfig(config as never, env);
  } catch (e) {
    assert.instance(e, OutboxError);
    assert.is((e as OutboxError).code, 'E_CONFIG', (e as Error).message);
    return (e as Error).message;
  }
  return assert.unreachable(`accepted ${JSON.stringify(config)}`) as never;
}

const unknownKeys: Array<[unknown, string]> = [
  [{ modles: {} }, 'modles: unknown key (did you mean models?)'],
  [{ outt: './x' }, 'outt: unknown key (did you mean out?)'],
  [{ relay: { batchsize: 50 } }, 'relay.batchsize: unknown key (did you mean batchSize?)'],
  [{ relay: { pollIntervall: 1 } }, 'relay.pollIntervall: unknown key (did you mean pollInterval?)'],
  [{ relay: { retryBackoff: { base: 1, maxx: 3 } } }, 'relay.retryBackoff.maxx: unknown key (did you mean max?)'],
  [{ consumer: { prefetch: 5 } }, 'consumer.prefetch: unknown key (expected prefetchCount, exclusive, queueHeaders, concurrency, shutdownTimeout, handlerTimeout)'],
  [{ consumer: { handlerTimeuot: 5 } }, 'consumer.handlerTimeuot: unknown key (did you mean handlerTimeout?)'],
  [{ retention: { dayz: 7 } }, 'retention.dayz: unknown key (did you mean days?)'],
  [{ broker: { hearbeat: [0, 0] } }, 'broker.hearbeat: unknown key (did you mean heartbeat?)'],
  [{ broker: { hosts: [{ hots: 'x', port: 1 }] } }, 'broker.hosts[0].hots: unknown key (did you mean host?)'],
  [{ broker: { tls: { rejectUnauthorised: false } } }, 'broker.tls.rejectUnauthorised: unknown key (did you mean rejectUnauthorized?)'],
  [{ database: { URL: 'postgres://x' } }, 'database.URL: unknown key (did you mean url?)'],
  [{ tables: { publised: 'x' } }, 'tables.publised: unknown key (did you mean published?)'],
  [{ tables: { sent: 'x' } }, 'tables.sent: unknown key (expected published, received, maintenance, idle, relays)'],
];

for (const [config, message] of unknownKeys) {
  test(`unknown key: ${message.split(':')[0]}`, () => {
    assert.is(configError(config), message);
  });
}

test('unknown keys are refused by validateConfig alone too', () => {
  assert.throws(() => validateConfig({ relay: { batchsize: 50 } } as never), /^relay\.batchsize: unknown key/);
});

test('a suggestion only when the key is within a typo of an allowed one', () => {
  assert.is(closest('modles', ['out', 'models']), 'models');
  assert.is(closest('BATCHSIZE', ['batchSize']), 'batchSize');
  assert.is(closest('db', ['out', 'database']), undefined);
  assert.is(closest('window2', ['window']), 'window');
  assert.is(closest('interval', ['days', 'batchSize']), undefined);
});

test('a section that is not an object is named with the keys it may have', () => {
  assert.is(configError({ relay: 'fast' }), 'relay: must be { batchSize?, pollInterval?, maxAttempts?, retryBackoff?, leaseTimeout?, window?, shutdownTimeout?, progressInterval? }');
  assert.match(configError({ consumer: null }), /^consumer: must be \{ prefetchCount\?/);
  assert.match(configError({ retention: [30] }), /^retention: must be \{ days\?, interval\?, batchSize\? \}$/);
  assert.match(configError({ database: 'postgres://x' }), /^database: must be \{ url\?, pglite\?, maxBackoff\? \}$/);
  assert.match(configError({ relay: { retryBackoff: 5 } }), /^relay\.retryBackoff: must be \{ base\?, max\? \}$/);
  assert.match(configError({ broker: { tls: 'yes' } }), /^broker\.tls: must be true, false or \{ ca\?, cert\?/);
});

test('broker.hosts must be a list: a single { host, port } would otherwise quietly become the default host', () => {
  const message = 'broker.hosts must be a list of { host, port } with a port from 1 to 65535';
  assert.is(configError({ broker: { hosts: { host: 'rabbit', port: 61613 } } }), message);
  assert.is(configError({ broker: { hosts: [{ host: '', port: 61613 }] } }), message);
  assert.is(configError({}, { OUTBOX_BROKER_URL: 'stomp://rabbit:0' }), message, "OUTBOX_BROKER_URL's hosts meet the same rule");
  assert.equal(resolveConfig({ broker: { hosts: [] } }, {}).broker.hosts, [{ host: '127.0.0.1', port: 61613 }], 'an empty list is the default');
});

const badValues: Array<[unknown, string]> = [
  [{ relay: { shutdownTimeout: -1 } }, 'relay.shutdownTimeout must be a number ≥ 0, got -1'],
  [{ relay: { progressInterval: -10 } }, 'relay.progressInterval must be a number ≥ 0 (0: no progress lines), got -10'],
  [{ relay: { progressInterval: Infinity } }, 'relay.progressInterval must be a number ≥ 0 (0: no progress lines), got Infinity'],
  [{ consumer: { shutdownTimeout: -2 } }, 'consumer.shutdownTimeout must be a number ≥ 0 or null (wait for ever), got -2'],
  [{ consumer: { handlerTimeout: 0 } }, 'consumer.handlerTimeout must be a positive number or null (no limit), got 0'],
  [{ consumer: { handlerTimeout: undefined } }, 'consumer.handlerTimeout must be a positive number or null (no limit), got undefined'],
  [{ consumer: { exclusive: 'false' } }, 'consumer.exclusive must be true or false, got the string "false"'],
  [{ broker: { vhost: 5 } }, 'broker.vhost must be a string, got number'],
  [{ broker: { login: ['guest'] } }, 'broker.login must be a string, got an array'],
  [{ broker: { passcode: { secret: 'hunter2' } } }, 'broker.passcode must be a string, got an object (Object)'],
  [{ broker: { heartbeat: 10_000 } }, 'broker.heartbeat must be [outgoingMs, incomingMs], got number'],
  [{ broker: { onFrame: 'log' } }, 'broker.onFrame must be a function (direction, command, headers) => void, got the string "log"'],
  [{ broker: { tls: { ca: 5 } } }, 'broker.tls.ca must be a PEM string or Buffer, or a list of them, got number'],
  [{ broker: { tls: { rejectUnauthorized: 'no' } } }, 'broker.tls.rejectUnauthorized must be true or false, got the string "no"'],
  [{ broker: { tls: { minVersion: 'TLSv1.4' } } }, "broker.tls.minVersion must be 'TLSv1.2' or 'TLSv1.3' (or 'TLSv1', 'TLSv1.1'), got the string \"TLSv1.4\""],
  [{ database: { url: 5 } }, 'database.url must be a postgres:// URL, got number'],
  [{ database: { pglite: ' ' } }, 'database.pglite must be a non-empty directory path, got the string " "'],
  [{ retention: { days: 0 } }, 'retention.days must be a positive number, got 0'],
  [{ consumer: { queueHeaders: { 'x-max-length': null } } }, 'consumer.queueHeaders["x-max-length"] must be a string, not null'],
];

for (const [config, message] of badValues) {
  test(`E_CONFIG: ${message.split(' ')[0]}`, () => {
    assert.is(configError(config), message);
  });
}

test('0 and null where they mean something: no drain, no progress lines, wait for ever, no limit', () => {
  const c = resolveConfig({ relay: { shutdownTimeout: 0, progressInterval: 0 }, consumer: { shutdownTimeout: null, handlerTimeout: null, exclusive: true } }, {});
  assert.is(c.relay.progressInterval, 0);
  assert.is(c.consumer.shutdownTimeout, null);
  resolveConfig({ consumer: { shutdownTimeout: 0, handlerTimeout: 0.5 } }, {});
  resolveConfig({ broker: { tls: { ca: ['PEM', Buffer.from('PEM')], minVersion: 'TLSv1.3', rejectUnauthorized: false } } }, {});
});

test('a TLS option is checked only when the environment does not turn TLS off', () => {
  assert.is(resolveConfig({ broker: { tls: { ca: 5 as never } } }, { OUTBOX_BROKER_URL: 'stomp://rabbit' }).broker.tls, false);
  assert.match(configError({ broker: { tls: { ca: 5 } } }, { OUTBOX_BROKER_URL: 'stomp+ssl://rabbit' }), /^broker\.tls\.ca must be/);
});

test('the defaults pass (and a config that sets nothing resolves)', () => {
  resolveConfig({}, {});
  resolveConfig({ broker: { tls: true } }, {});
});

test.run();

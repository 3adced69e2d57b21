/**
 * createProducer takes a resolved config, as createRelay and createConsumer do: a plain config is a type
 * error, and from JavaScript an E_CONFIG that says what to pass. Needs no services (nothing connects).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../src/config/resolve.js';
import type { OutboxConfig } from '../src/config/types.js';
import { isOutboxError } from '../src/errors.js';
import { silentLogger } from '../src/log/logger.js';
import { createProducer } from '../src/producer/producer.js';

// @ts-expect-error an OutboxConfig is not a ResolvedConfig: `tsc --noEmit` fails here the day it is accepted
const fromPlain = (config: OutboxConfig) => createProducer(config, { logger: silentLogger });

test('a plain config is refused: E_CONFIG, pass resolveConfig(config)', () => {
  const plain: OutboxConfig = { broker: { hosts: [{ host: '127.0.0.1', port: 61613 }] } };
  for (const config of [plain, {}, { broker: { ...resolveConfig({}, {}).broker, tls: true } }]) {
    try {
      fromPlain(config as OutboxConfig);
      assert.unreachable('a plain config was accepted');
    } catch (e) {
      assert.ok(isOutboxError(e, 'E_CONFIG'), String(e));
      assert.is((e as Error).message, 'config: createProducer takes a resolved config: pass resolveConfig(config)');
    }
  }
});

test('a resolved config is taken as it is (nothing connects before the first send)', async () => {
  const producer = createProducer(resolveConfig({}, {}), { logger: silentLogger });
  await producer.close();
});

test.run();

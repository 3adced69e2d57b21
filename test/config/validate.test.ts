// @offline: no database, no broker
// Every config mistake is an E_CONFIG naming the model and the key, and `outbox generate` then writes nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig } from '../../src/config/resolve.js';
import type { OutboxConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { OutboxError } from '../../src/errors.js';
import { lineItems, orders } from '../fixtures/shop/schema.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WORK = join(ROOT, 'tmp', `capture-validate-${process.pid}`);

function configError(config: unknown): string {
  try {
    validateConfig(config as OutboxConfig);
  } catch (e) {
    assert.instance(e, OutboxError);
    assert.is((e as OutboxError).code, 'E_CONFIG');
    return (e as Error).message;
  }
  return assert.unreachable('the config was accepted') as never;
}

const order = (...publish: unknown[]) => ({ models: { order: { table: orders, publish } } });

const mistakes: Array<[string, unknown, RegExp]> = [
  ['unknown field', order({ destination: '/topic/o', fields: ['status', 'stauts'] }), /^models\.order\.publish\[0\]\.fields: unknown column "stauts" of table "orders" \(columns: id, status, total, note, createdAt\)$/],
  ['field listed twice', order({ destination: '/topic/o', fields: ['status', 'status'] }), /^models\.order\.publish\[0\]\.fields: lists "status" twice/],
  ['serializer not a function', order({ destination: '/topic/o', serializer: 'toBilling' }), /^models\.order\.publish\[0\]\.serializer: must be a function \(row\) => body, got the string "toBilling"$/],
  ['empty destination', order({ destination: '' }), /^models\.order\.publish\[0\]\.destination: must be a non-empty string/],
  ['missing destination', order({ fields: ['status'] }), /^models\.order\.publish\[0\]\.destination: must be a non-empty string/],
  ['destination without a slash', order({ destination: 'orders' }), /^models\.order\.publish\[0\]\.destination: "orders" must start with one of \/topic\//],
  ['unknown destination kind', order({ destination: '/topics/orders' }), /must start with one of/],
  ['destination with whitespace', order({ destination: '/topic/ord ers' }), /^models\.order\.publish\[0\]\.destination: "\/topic\/ord ers" contains whitespace/],
  ['destination with a newline', order({ destination: '/topic/a\nb' }), /"\/topic\/a\\nb" contains whitespace or a control character/],
  ['destination with no name', order({ destination: '/queue/' }), /has no name after \/queue\//],
  ['duplicate destination', order({ destination: '/topic/o' }, { destination: '/topic/o', fields: ['status'] }), /^models\.order\.publish\[1\]: duplicate destination\+version "\/topic\/o" \(also publish\[0\]\)/],
  ['duplicate destination+version', order({ destination: '/topic/o.v1' }, { destination: '/topic/o', version: 'v1' }), /^models\.order\.publish\[1\]: duplicate destination\+version "\/topic\/o\.v1"/],
  ['malformed version', order({ destination: '/topic/o', version: 'v 1' }), /^models\.order\.publish\[0\]\.version: "v 1" must be letters, digits/],
  ['empty version', order({ destination: '/topic/o', version: '' }), /^models\.order\.publish\[0\]\.version: "" must be/],
  ['numeric version', order({ destination: '/topic/o', version: 1 }), /^models\.order\.publish\[0\]\.version: 1 must be/],
  ['unknown key in a publish entry', order({ destination: '/topic/o', serialiser: () => 1 }), /^models\.order\.publish\[0\]\.serialiser: unknown key/],
  ['not a Drizzle table', { models: { order: { table: { name: 'orders' }, publish: [{ destination: '/topic/o' }] } } }, /^models\.order\.table: is not a Drizzle table .*got an object \(Object\)$/],
  ['missing table', { models: { order: { publish: [{ destination: '/topic/o' }] } } }, /^models\.order\.table: is not a Drizzle table.*got undefined$/],
  ['empty publish list', order(), /^models\.order\.publish: must be a non-empty list/],
  ['unknown model key', { models: { order: { table: orders, publish: [{ destination: '/topic/o' }], publsh: [] } } }, /^models\.order\.publsh: unknown key/],
  ['composite key without serializer', { models: { lineItem: { table: lineItems, publish: [{ destination: '/topic/li' }] } } }, /^models\.lineItem\.publish\[0\]: table "line_items" has no single-column primary key/],
  ['model name not an identifier', { models: { 'order-item': { table: orders, publish: [{ destination: '/topic/o' }] } } }, /^models\.order-item: the model name must be/],
  ['two models, one helper name', { models: { order_item: { table: orders, publish: [{ destination: '/topic/a' }] }, orderItem: { table: orders, publish: [{ destination: '/topic/b' }] } } }, /^models\.orderItem: gives the same helper names as models\.order_item/],
  ['headers hook not a function', { headers: { 'x-a': 'b' } }, /^headers: must be a function/],
  ['bad table name', { tables: { published: 'Outbox Events' } }, /^tables\.published: "Outbox Events" must be a lowercase SQL name/],
  ['two tables, one name', { tables: { received: 'outbox_published' } }, /^tables\.received: "outbox_published" is also tables\.published/],
  ['unknown table key', { tables: { sent: 'x' } }, /^tables\.sent: unknown key/],
];

for (const [name, config, pattern] of mistakes) {
  test(`E_CONFIG: ${name}`, () => {
    assert.match(configError(config), pattern);
  });
}

test('a valid config passes, and resolveConfig validates too', () => {
  validateConfig(order({ destination: '/topic/o' }, { destination: '/topic/o', version: 'v1', fields: ['status'] }, { destination: '/amq/queue/billing', serializer: () => ({}) }) as OutboxConfig);
  // The same destination in two models is fine (two kinds of rows feeding one stream).
  const other = pgTable('other', { id: serial('id').primaryKey(), name: text('name') });
  validateConfig({ models: { a: { table: orders, publish: [{ destination: '/topic/x' }] }, b: { table: other, publish: [{ destination: '/topic/x' }] } } });
  assert.throws(() => resolveConfig(order({ destination: 'nope' }) as OutboxConfig, {}), /models\.order\.publish\[0\]\.destination/);
});

function runGenerate(configFile: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'generate', '--config', configFile], {
    cwd: WORK,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('outbox generate with a mistake: exit 2, one line naming model and key, nothing written', () => {
  mkdirSync(WORK, { recursive: true });
  const schema = JSON.stringify(join(ROOT, 'test/fixtures/shop/schema.ts'));
  const define = JSON.stringify(join(ROOT, 'src/index.ts'));
  const write = (file: string, publish: string) =>
    writeFileSync(
      join(WORK, file),
      `import { defineConfig } from ${define};\nimport { orders } from ${schema};\n` +
        `export default defineConfig({ out: './out', models: { order: { table: orders, publish: [${publish}] } } });\n`,
    );
  write('bad.config.ts', `{ destination: '/topic/orders' }, { destination: '/topic/orders-slim', fields: ['stauts' as 'status'] }`);
  const bad = runGenerate('bad.config.ts');
  assert.is(bad.status, 2, bad.stderr);
  assert.is(bad.stderr, 'outbox: models.order.publish[1].fields: unknown column "stauts" of table "orders" (columns: id, status, total, note, createdAt)\n');
  assert.is(bad.stdout, '');
  assert.not.ok(existsSync(join(WORK, 'out')), 'nothing may be written');

  // A good run, then a bad one: the files of the good run stay exactly as they were.
  write('good.config.ts', `{ destination: '/topic/orders' }`);
  const good = runGenerate('good.config.ts');
  assert.is(good.status, 0, good.stderr);
  assert.is(good.stdout, 'wrote out/schema.ts\nwrote out/index.ts\nwrote out/outbox-trigger.sql\n');
  const before = readdirSync(join(WORK, 'out')).map((f) => [f, readFileSync(join(WORK, 'out', f), 'utf8')]);
  write('good.config.ts', `{ destination: '/topic/orders', serializer: 'nope' as never }`);
  const again = runGenerate('good.config.ts');
  assert.is(again.status, 2);
  assert.match(again.stderr, /^outbox: models\.order\.publish\[0\]\.serializer: must be a function/);
  const after = readdirSync(join(WORK, 'out')).map((f) => [f, readFileSync(join(WORK, 'out', f), 'utf8')]);
  assert.equal(after, before, 'no file changed, no temporary left behind');
});

test.after(() => rmSync(WORK, { recursive: true, force: true }));

test.run();

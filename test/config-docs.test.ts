// @offline: no database, no broker
/**
 * The defaults are written down three times: src/config/defaults.ts (the values the code uses), the
 * `@defaultValue` of each option in src/config/types.ts, and the README's settings tables. This test parses
 * the other two and fails, naming the key, wherever they state something defaults.ts does not have — or
 * leave out a key of `relay`, `consumer` or `retention`. When they disagree, defaults.ts is right.
 * Needs no services.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaults } from '../src/config/defaults.js';

const ROOT = join(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

type Row = { key: string; value: string };

/** The rows (key cell without backticks, default cell as written) of the first table after `heading`. */
function tableAfter(heading: string): Row[] {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no heading ${JSON.stringify(heading)}`);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: Row[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [key = '', value = ''] = line.split('|').slice(1).map((cell) => cell.trim());
    rows.push({ key: key.replace(/`/g, ''), value });
  }
  assert.ok(rows.length > 0, `no table rows after ${heading}`);
  return rows;
}

/** `a 1, b \`{ x: 1, y: 2 }\` s` → ['a 1', 'b `{ x: 1, y: 2 }` s']: commas inside {}, [] or code spans do not split. */
function splitItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let code = false;
  let current = '';
  for (const ch of text) {
    if (ch === '`') code = !code;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    if (ch === ',' && depth === 0 && !code) {
      items.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) items.push(current.trim());
  return items;
}

/**
 * A default as the docs write it, as a value: `200`, `1 s`, `{ base: 1, max: 300 }` s, `'outbox_published'`,
 * `/`, `null`, `127.0.0.1:61613`. Units (s, ms) and a trailing remark in parentheses are not part of it.
 */
function parseStated(text: string): unknown {
  const bare = text.replace(/`/g, '').replace(/\s*\(.*\)\s*$/, '').replace(/\s+(s|ms|seconds)$/, '').trim();
  if (/^'.*'$/.test(bare)) return bare.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(bare)) return Number(bare);
  if (bare === 'true' || bare === 'false' || bare === 'null') return JSON.parse(bare);
  if (/^[{[]/.test(bare)) return JSON.parse(bare.replace(/'/g, '"').replace(/([A-Za-z_]\w*)\s*:/g, '"$1":'));
  const host = /^([\w.-]+):(\d+)$/.exec(bare);
  if (host) return [{ host: host[1], port: Number(host[2]) }];
  return bare;
}

/** The value at a dotted path of defaults.ts, or undefined. */
function defaultAt(path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => (at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), defaults);
}

function check(where: string, path: string, stated: string): void {
  const expected = defaultAt(path);
  assert.ok(expected !== undefined, `${where}: states a default for ${path}, which defaults.ts does not have`);
  // The idle table follows the published one; the docs say so instead of naming one table.
  const value = parseStated(stated.replace('<published>', String(defaults.tables.published)));
  assert.equal(value, expected, `${where}: ${path} is stated as ${stated}; defaults.ts has ${JSON.stringify(expected)}`);
}

const SECTIONS = ['relay', 'consumer', 'retention'] as const;

test('README "Configuration" table: every default it states is the one in defaults.ts', () => {
  const where = 'README "Configuration" table';
  const rows = tableAfter('## Configuration: `outbox.config.ts`');
  const stated = new Map<string, Set<string>>();
  for (const { key, value } of rows) {
    if (key.endsWith('.*')) {
      const section = key.slice(0, -2);
      const keys = new Set<string>();
      for (const item of splitItems(value)) {
        const m = /^`(\w+)`\s+(.+)$/.exec(item);
        assert.ok(m, `${where}, ${key}: "${item}" is not \`key\` value`);
        keys.add(m[1]!);
        check(where, `${section}.${m[1]}`, m[2]!);
      }
      stated.set(section, keys);
    } else if (defaultAt(key) !== undefined) {
      check(where, key, value);
    }
  }
  for (const section of [...SECTIONS, 'broker'] as const) {
    const keys = stated.get(section);
    assert.ok(keys, `${where}: no ${section}.* row`);
    for (const key of Object.keys(defaults[section])) assert.ok(keys.has(key), `${where}, ${section}.*: ${key} is missing`);
  }
});

for (const [section, heading] of [
  ['relay', '#### Settings (`relay` in the config)'],
  ['consumer', '#### Settings (`consumer` in `outbox.config.ts`)'],
] as const) {
  test(`README ${heading.replace(/^#+ /, '')}: the defaults of defaults.${section}, every key`, () => {
    const where = `README "${heading.replace(/^#+ /, '')}"`;
    const rows = tableAfter(heading);
    for (const { key, value } of rows) check(where, `${section}.${key}`, value);
    const listed = new Set(rows.map((r) => r.key));
    for (const key of Object.keys(defaults[section])) assert.ok(listed.has(key), `${where}: ${key} is missing`);
  });
}

/** types.ts interface → where its options' defaults are in defaults.ts ('' for the top level). */
const INTERFACES: Record<string, string> = {
  OutboxConfig: '',
  TableNames: 'tables',
  BrokerConfig: 'broker',
  BrokerTls: 'broker.tls',
  DatabaseConfig: 'database',
  RelayConfig: 'relay',
  ConsumerConfig: 'consumer',
  RetentionConfig: 'retention',
  PublishConfig: 'models.*.publish[]',
};
/** OutboxConfig keys that group options rather than being one: their options carry the defaults. */
const GROUPS = new Set(['tables', 'broker', 'database', 'relay', 'consumer', 'retention']);

test('types.ts: every option has a @defaultValue, and those naming a value agree with defaults.ts', () => {
  const file = join(ROOT, 'src/config/types.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const seen = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isInterfaceDeclaration(statement) || !(statement.name.text in INTERFACES)) continue;
    const prefix = INTERFACES[statement.name.text]!;
    for (const member of statement.members) {
      if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
      const name = member.name.text;
      const path = prefix ? `${prefix}.${name}` : name;
      // A required key (a publish entry's destination) has no default to document.
      if ((prefix === '' && GROUPS.has(name)) || (prefix.startsWith('models') && !member.questionToken)) continue;
      const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'defaultValue');
      assert.ok(tag, `types.ts ${statement.name.text}.${name} has no @defaultValue`);
      seen.add(path);
      if (defaultAt(path) === undefined) continue;
      const code = /`([^`]*)`/.exec(ts.getTextOfJSDocComment(tag.comment) ?? '');
      assert.ok(code, `types.ts ${path}: @defaultValue names no value in backticks, but defaults.ts has one`);
      check(`types.ts @defaultValue`, path, code[1]!);
    }
  }
  for (const section of [...SECTIONS, 'broker', 'tables', 'database'] as const) {
    for (const key of Object.keys(defaults[section])) assert.ok(seen.has(`${section}.${key}`), `types.ts: no @defaultValue for ${section}.${key}`);
  }
  assert.ok(seen.has('out'), 'types.ts: no @defaultValue for out');
});

test('the parser reads what the tables write', () => {
  assert.is(parseStated('1 s'), 1);
  assert.equal(parseStated('`{ base: 1, max: 300 }` s'), { base: 1, max: 300 });
  assert.equal(parseStated('`[10000, 10000]` ms'), [10000, 10000]);
  assert.is(parseStated("`'./.outbox-data'`"), './.outbox-data');
  assert.is(parseStated('`86400` (one day)'), 86400);
  assert.is(parseStated('`null`'), null);
  assert.equal(splitItems('`a` 1, `b` `{ x: 1, y: 2 }` s, `c` `[1, 2]`'), ['`a` 1', '`b` `{ x: 1, y: 2 }` s', '`c` `[1, 2]`']);
});

test.run();

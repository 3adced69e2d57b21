/**
 * `outbox generate`: config in, files out, nothing written until everything is computed.
 *
 *   const files = await generate({ configPath, config });   // validates, type-checks, renders
 *   await writeGenerated(files);                             // temp file + rename, unchanged files untouched
 *
 * Deterministic: the same config gives byte-identical files (config order kept, no timestamps).
 */
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { resolveConfig } from '../src/config/resolve.js';
import type { OutboxConfig } from '../src/config/types.js';
import { pascalCase } from '../src/config/validate-model.js';
import { DESTINATION_PREFIXES, finalDestination } from '../src/wire/destination.js';
import { tableShape } from '../src/db/table-shape.js';
import { key, resolveBodyTypes, type BodyRequest } from './body-types.js';
import { renderIndex, type ModelView } from './index-template.js';
import { renderSchema } from './schema-template.js';
import { renderTrigger } from './trigger-template.js';

export interface GenerateOptions {
  /** Path of the config file (the generated index imports it, and the type checker reads it). */
  configPath: string;
  /** The loaded config module's export. */
  config: OutboxConfig;
  /** Which export of the config module holds the config. Default `default`. */
  configExport?: 'default' | 'config';
  /** Output directory; default: the config's `out`, relative to the config file's directory. */
  out?: string;
  /** Module the generated code imports the runtime from. Default `drizzle-outbox`; tests point it at src/. */
  runtimeImport?: string;
}

export interface GeneratedFile {
  path: string;
  content: string;
}

export interface GenerateResult {
  files: GeneratedFile[];
  /** Things the type checker could not resolve (the body type is then `unknown`). */
  warnings: string[];
}

/** Validates the config (`E_CONFIG`), resolves body types, renders every file. Writes nothing. */
export function generate(options: GenerateOptions): GenerateResult {
  const configPath = resolve(options.configPath);
  const resolved = resolveConfig(options.config, {});
  const outDir = resolve(dirname(configPath), options.out ?? resolved.out);
  const models = Object.entries(resolved.models);

  const requests: BodyRequest[] = [];
  for (const [name, model] of models) {
    const shape = tableShape(model.table)!;
    model.publish.forEach((entry, index) => {
      requests.push({
        model: name,
        index,
        shape: entry.serializer
          ? { kind: 'serializer' }
          : { kind: 'columns', primaryKey: shape.primaryKey!, columns: shape.columns, fields: entry.fields },
      });
    });
  }
  const configExport = options.configExport ?? 'default';
  const bodies = requests.length > 0 ? resolveBodyTypes(configPath, configExport, requests) : { types: new Map<string, string>(), warnings: [] };

  const names = typeNames(models.map(([name, model]) => ({ name, destinations: model.publish.map((p) => finalDestination(p.destination, p.version)) })));
  const views: ModelView[] = models.map(([name, model]) => ({
    key: name,
    pascal: pascalCase(name),
    table: tableShape(model.table)!.name,
    entries: model.publish.map((entry, index) => ({
      destination: finalDestination(entry.destination, entry.version),
      typeName: names.get(key({ model: name, index }))!,
      type: bodies.types.get(key({ model: name, index })) ?? 'unknown',
      made: entry.serializer ? 'the serializer’s result' : entry.fields ? `id + ${entry.fields.join(', ')}` : 'id + every column',
    })),
  }));

  const index = renderIndex({
    configImport: moduleSpecifier(outDir, configPath),
    configFile: toPosix(relative(outDir, configPath)),
    configExport,
    runtimeImport: options.runtimeImport ?? 'drizzle-outbox',
    models: views,
  });
  return {
    files: [
      { path: join(outDir, 'schema.ts'), content: renderSchema(resolved.tables) },
      { path: join(outDir, 'index.ts'), content: index },
      { path: join(outDir, 'outbox-trigger.sql'), content: renderTrigger(resolved.tables) },
    ],
    warnings: bodies.warnings,
  };
}

/**
 * Body type names from destinations: `/topic/orders-slim` + `v1` → `OrdersSlimV1Body`. Two entries that
 * would share a name get their model's name in front (`CustomerAuditBody`), then a number.
 */
function typeNames(models: Array<{ name: string; destinations: string[] }>): Map<string, string> {
  const base = new Map<string, string>();
  const count = new Map<string, number>();
  for (const m of models) {
    m.destinations.forEach((d, index) => {
      const name = `${destinationPascal(d)}Body`;
      base.set(key({ model: m.name, index }), name);
      count.set(name, (count.get(name) ?? 0) + 1);
    });
  }
  const used = new Set<string>();
  const result = new Map<string, string>();
  for (const m of models) {
    m.destinations.forEach((_, index) => {
      const k = key({ model: m.name, index });
      let name = base.get(k)!;
      if (count.get(name)! > 1) name = `${pascalCase(m.name)}${name}`;
      for (let n = 2; used.has(name); n++) name = `${name.replace(/\d+$/, '')}${n}`;
      used.add(name);
      result.set(k, name);
    });
  }
  return result;
}

function destinationPascal(destination: string): string {
  const prefix = DESTINATION_PREFIXES.find((p) => destination.startsWith(p)) ?? '/';
  const words = destination.slice(prefix.length).split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(name) ? name : `Message${name}`;
}

/** `../outbox.config.js` for `../outbox.config.ts`: how TypeScript (NodeNext and bundlers) wants it written. */
function moduleSpecifier(fromDir: string, file: string): string {
  const extension = extname(file);
  const mapped = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' }[extension] ?? extension;
  const path = toPosix(relative(fromDir, file.slice(0, file.length - extension.length) + mapped));
  return path.startsWith('.') ? path : `./${path}`;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

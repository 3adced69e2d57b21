/**
 * Resolves the TypeScript type of every message body with the type checker, and prints it as the type
 * that travels on the wire (Date → string, bigint → string, bytes → string: the body rules of
 * src/publish/body.ts). This is the one place the generator needs ts-morph; everything else is text.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Node, Project, ts, type SourceFile, type Type } from 'ts-morph';
import type { OutboxConfig } from '../src/config/types.js';
import { printWireType } from './print-type.js';

/** What one publish entry's body is made of. */
export type BodyShape =
  | { kind: 'serializer' }
  | { kind: 'columns'; primaryKey: string; columns: readonly string[]; fields?: readonly string[] };

export interface BodyRequest {
  model: string;
  /** Index in the model's `publish` list. */
  index: number;
  shape: BodyShape;
}

/** The checker's view of the config: printed body types, and warnings when a type could not be resolved. */
export interface ResolvedBodies {
  /** `model:index` → printed type. */
  types: Map<string, string>;
  warnings: string[];
}

/**
 * Type-checks the config file (and what it imports) and prints each requested body type.
 * Uses the nearest tsconfig.json above the config (for paths and module resolution), with
 * `strictNullChecks` forced on so that nullable columns print as `… | null`.
 */
export function resolveBodyTypes(configPath: string, exportName: 'default' | 'config', requests: readonly BodyRequest[]): ResolvedBodies {
  const project = createProject(configPath);
  const file = project.addSourceFileAtPath(configPath);
  const checker = project.getTypeChecker();
  const warnings: string[] = [];
  const types = new Map<string, string>();
  const exported = exportedConfig(file, exportName);
  if (!exported) {
    for (const r of requests) types.set(key(r), 'unknown');
    warnings.push(`${configPath}: cannot find the ${exportName} export for the type checker; body types are unknown`);
    return { types, warnings };
  }
  const configType = checker.getTypeAtLocation(exported);
  const literal = objectLiteralOf(exported);
  const models = propertyType(configType, 'models', file);
  for (const request of requests) {
    const at = `models.${request.model}.publish[${request.index}]`;
    const model = models && propertyType(models, request.model, file);
    let body: Type | undefined;
    if (request.shape.kind === 'serializer') {
      body = serializerReturnType(literal, request, file) ?? serializerReturnFromType(model, request.index, file);
    } else {
      const table = model && propertyType(model, 'table', file);
      const row = table && propertyType(table, '$inferSelect', file);
      if (row) {
        types.set(key(request), printWireType(row, file, columnsPicker(request.shape)));
        continue;
      }
    }
    if (!body || body.isAny()) {
      warnings.push(`${at}: the body type could not be resolved (is the config typed by defineConfig?); it is "unknown"`);
      types.set(key(request), 'unknown');
      continue;
    }
    types.set(key(request), printWireType(body, file));
  }
  return { types, warnings };
}

export const key = (r: { model: string; index: number }) => `${r.model}:${r.index}`;

function createProject(configPath: string): Project {
  const tsconfig = findUp(dirname(configPath), 'tsconfig.json');
  const overrides: ts.CompilerOptions = {
    noEmit: true,
    allowJs: true,
    skipLibCheck: true,
    strictNullChecks: true,
    declaration: false,
    sourceMap: false,
  };
  if (tsconfig) return new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true, compilerOptions: overrides });
  return new Project({
    compilerOptions: {
      ...overrides,
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    },
  });
}

function findUp(dir: string, name: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, name))) return join(d, name);
    if (dirname(d) === d) return undefined;
  }
}

/** The expression the config's default (or `config`) export stands for. */
function exportedConfig(file: SourceFile, exportName: 'default' | 'config'): Node | undefined {
  const symbol = exportName === 'default' ? file.getDefaultExportSymbol() : file.getExportSymbols().find((s) => s.getName() === 'config');
  const declaration = (symbol?.getAliasedSymbol() ?? symbol)?.getDeclarations()[0];
  if (!declaration) return undefined;
  if (Node.isExportAssignment(declaration)) return declaration.getExpression();
  if (Node.isVariableDeclaration(declaration)) return declaration.getInitializer() ?? declaration;
  return declaration;
}

/** Follows identifiers, `defineConfig(…)`, `as`, `satisfies` and parentheses down to an object literal. */
function objectLiteralOf(node: Node | undefined, depth = 0): Node | undefined {
  if (!node || depth > 10) return undefined;
  if (Node.isObjectLiteralExpression(node) || Node.isArrayLiteralExpression(node)) return node;
  if (Node.isCallExpression(node)) return objectLiteralOf(node.getArguments()[0], depth + 1);
  if (Node.isAsExpression(node) || Node.isSatisfiesExpression(node) || Node.isParenthesizedExpression(node)) {
    return objectLiteralOf(node.getExpression(), depth + 1);
  }
  if (Node.isIdentifier(node)) {
    const declaration = node.getSymbol()?.getDeclarations()[0];
    if (declaration && Node.isVariableDeclaration(declaration)) return objectLiteralOf(declaration.getInitializer(), depth + 1);
  }
  return undefined;
}

function member(objectNode: Node | undefined, name: string): Node | undefined {
  if (!objectNode || !Node.isObjectLiteralExpression(objectNode)) return undefined;
  const property = objectNode.getProperty(name);
  if (!property) return undefined;
  if (Node.isPropertyAssignment(property)) return property.getInitializer();
  if (Node.isShorthandPropertyAssignment(property)) return property.getNameNode();
  if (Node.isMethodDeclaration(property)) return property;
  return undefined;
}

/** The serializer's return type read at its definition, where the checker gave its parameter the row type. */
function serializerReturnType(literal: Node | undefined, request: BodyRequest, file: SourceFile): Type | undefined {
  const models = objectLiteralOf(member(literal, 'models'));
  const model = objectLiteralOf(member(models, request.model));
  const publish = objectLiteralOf(member(model, 'publish'));
  if (!publish || !Node.isArrayLiteralExpression(publish)) return undefined;
  const entry = objectLiteralOf(publish.getElements()[request.index]);
  const serializer = member(entry, 'serializer');
  if (!serializer) return undefined;
  const signature = serializer.getType().getCallSignatures()[0];
  void file;
  return signature?.getReturnType();
}

/** Fallback: the serializer's return type read from the config's type (needs a tuple `publish`). */
function serializerReturnFromType(model: Type | undefined, index: number, file: SourceFile): Type | undefined {
  const publish = model && propertyType(model, 'publish', file);
  if (!publish?.isTuple()) return undefined;
  const entry = publish.getTupleElements()[index];
  const serializer = entry && propertyType(entry, 'serializer', file)?.getNonNullableType();
  return serializer?.getCallSignatures()[0]?.getReturnType();
}

function propertyType(type: Type, name: string, file: SourceFile): Type | undefined {
  const property = type.getNonNullableType().getProperty(name);
  return property?.getTypeAtLocation(file);
}

/**
 * For column bodies: `id` (the key's type) first, then the chosen columns in the user's order, or all
 * columns in declaration order (the checker's property order of `$inferSelect` is not that order).
 */
function columnsPicker(shape: Extract<BodyShape, { kind: 'columns' }>) {
  return (): Array<{ name: string; from: string }> => {
    const picked = shape.fields ?? shape.columns;
    return [{ name: 'id', from: shape.primaryKey }, ...picked.filter((n) => n !== 'id').map((n) => ({ name: n, from: n }))];
  };
}

/**
 * Prints a checker type as the JSON it becomes on the wire, as TypeScript source text:
 * `Date`, `bigint` and bytes become `string`, `toJSON()` is followed, `undefined` properties become
 * optional (JSON leaves them out), functions and other values the body rules refuse become `never`.
 * Output is deterministic: properties in declaration order, union members in the checker's order.
 */
import { ts, type SourceFile, type Type } from 'ts-morph';

/** Chooses and renames the top-level properties (column bodies): `from` is the row's property. */
export type Picker = (names: string[]) => Array<{ name: string; from: string }>;

const MAX_DEPTH = 12;
const BYTES = new Set(['Buffer', 'Uint8Array']);
const REFUSED = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'RegExp', 'Promise', 'Error', 'ArrayBuffer', 'DataView']);

export function printWireType(type: Type, file: SourceFile, pick?: Picker): string {
  return print(type, { file, stack: [], indent: '' }, pick);
}

interface Context {
  file: SourceFile;
  /** Types being printed, to stop at recursion. */
  stack: Type[];
  indent: string;
}

function print(type: Type, ctx: Context, pick?: Picker): string {
  if (ctx.stack.length > MAX_DEPTH || ctx.stack.includes(type)) return 'unknown';
  if (type.isAny() || type.isUnknown()) return 'unknown';
  if (type.isNever()) return 'never';
  if (type.isNull()) return 'null';
  if (type.isUndefined() || type.isVoid()) return 'never';
  if (type.isBoolean()) return 'boolean';
  if (type.isString() || type.isNumber()) return type.getText();
  if (type.isBigInt() || type.isBigIntLiteral() || type.isTemplateLiteral()) return 'string';
  if (type.isStringLiteral() || type.isNumberLiteral()) return JSON.stringify(type.getLiteralValue());
  if (type.isBooleanLiteral()) return type.getText();
  if (type.getFlags() & ts.TypeFlags.ESSymbolLike) return 'never';
  if (type.isUnion()) return printUnion(type.getUnionTypes(), ctx);
  if (type.isTuple()) {
    const inner = nested(type, ctx);
    return `[${type.getTupleElements().map((t) => print(t, inner)).join(', ')}]`;
  }
  if (type.isArray() || type.isReadonlyArray()) {
    const element = type.getArrayElementType() ?? type.getTypeArguments()[0];
    const text = element ? print(element, nested(type, ctx)) : 'unknown';
    return /[|&\s]/.test(text) && !text.startsWith('{') ? `(${text})[]` : `${text}[]`;
  }
  const name = type.getSymbol()?.getName();
  if (name === 'Date') return 'string';
  if (name && BYTES.has(name)) return 'string';
  if (name && REFUSED.has(name)) return 'never';
  const toJSON = type.getProperty('toJSON');
  if (toJSON) {
    const signature = toJSON.getTypeAtLocation(ctx.file).getCallSignatures()[0];
    return signature ? print(signature.getReturnType(), nested(type, ctx)) : 'unknown';
  }
  if (type.getCallSignatures().length > 0 && type.getProperties().length === 0) return 'never';
  if (type.isObject() || type.isIntersection()) return printObject(type, ctx, pick);
  return type.getText(undefined, ts.TypeFormatFlags.NoTruncation);
}

function printUnion(members: Type[], ctx: Context): string {
  const texts: string[] = [];
  const hasTrue = members.some((m) => m.isBooleanLiteral() && m.getText() === 'true');
  const hasFalse = members.some((m) => m.isBooleanLiteral() && m.getText() === 'false');
  for (const m of members) {
    let text: string;
    if (m.isBooleanLiteral() && hasTrue && hasFalse) text = 'boolean';
    else if (m.isUndefined()) continue;
    else text = print(m, ctx);
    if (text !== 'never' && !texts.includes(text)) texts.push(text);
  }
  if (texts.length === 0) return 'never';
  // null last reads better and is what people write: `string | null`.
  const sorted = [...texts.filter((t) => t !== 'null'), ...texts.filter((t) => t === 'null')];
  return sorted.join(' | ');
}

function printObject(type: Type, ctx: Context, pick?: Picker): string {
  const inner = nested(type, ctx);
  const properties = type.getProperties();
  const byName = new Map(properties.map((p) => [p.getName(), p]));
  const chosen = pick ? pick(properties.map((p) => p.getName())) : properties.map((p) => ({ name: p.getName(), from: p.getName() }));
  const lines: string[] = [];
  for (const { name, from } of chosen) {
    const property = byName.get(from);
    if (!property) continue;
    const propertyType = property.getTypeAtLocation(ctx.file);
    const text = print(propertyType, inner);
    if (text === 'never') continue;
    const optional = property.isOptional() || propertyType.isUndefined() || (propertyType.isUnion() && propertyType.getUnionTypes().some((t) => t.isUndefined()));
    lines.push(`${inner.indent}${propertyName(name)}${optional ? '?' : ''}: ${text};`);
  }
  const index = type.getStringIndexType();
  if (index) lines.push(`${inner.indent}[key: string]: ${print(index, inner)};`);
  if (lines.length === 0) return '{}';
  return `{\n${lines.join('\n')}\n${ctx.indent}}`;
}

function nested(type: Type, ctx: Context): Context {
  return { file: ctx.file, stack: [...ctx.stack, type], indent: `${ctx.indent}  ` };
}

function propertyName(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

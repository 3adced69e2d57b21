import { HEADER } from './header.js';

/** One publish entry, as the index template prints it. */
export interface EntryView {
  /** Final destination, version applied. */
  destination: string;
  /** Exported body type name, e.g. `OrdersSlimV1Body`. */
  typeName: string;
  /** Printed wire type. */
  type: string;
  /** How the body is made, for the doc comment. */
  made: string;
}

export interface ModelView {
  key: string;
  pascal: string;
  /** SQL name of the business table, for doc comments. */
  table: string;
  entries: EntryView[];
}

export interface IndexView {
  /** Relative specifier of the config module, e.g. `../outbox.config.js`. */
  configImport: string;
  /** Relative path of the config file from the output directory (for the comment). */
  configFile: string;
  configExport: 'default' | 'config';
  runtimeImport: string;
  models: ModelView[];
}

/**
 * `index.ts`: re-exports the schema, then one body type per destination, then per model an insert and
 * an update helper, then a `publish` bound to the config. Plain text, one template; the runtime they
 * call lives in the package (src/publish/), so this file stays boring.
 */
export function renderIndex(view: IndexView): string {
  const hasModels = view.models.length > 0;
  const runtime = hasModels
    ? 'insertWithOutbox, publish as publishWith, updateWithOutbox, type OutboxTarget, type OutboxTx, type PublishMessage'
    : 'publish as publishWith, type OutboxTarget, type OutboxTx, type PublishMessage';
  const configBinding = view.configExport === 'default' ? 'config' : '{ config }';
  const out: string[] = [];
  out.push(`${HEADER}
// From ${view.configFile}: run \`outbox generate\` again after changing it.
${hasModels ? "import type { SQL } from 'drizzle-orm';\nimport type { PgUpdateSetSource } from 'drizzle-orm/pg-core';\n" : ''}import { ${runtime} } from '${view.runtimeImport}';
// The config is imported at run time: the helpers call its serializers and its headers hook.
import ${configBinding} from '${view.configImport}';
import { outboxPublished } from './schema.js';

export * from './schema.js';

const target: OutboxTarget = { table: outboxPublished, headers: config.headers };
${hasModels ? 'const models = config.models!;\n' : ''}`);

  if (hasModels) {
    out.push(`// ── Message bodies, as they travel (Date → ISO-8601 string, bigint → string, bytes → base64 string).\n`);
    for (const model of view.models) {
      for (const entry of model.entries) {
        out.push(`/** Body of \`${entry.destination}\`: ${entry.made} of model \`${model.key}\` (table \`${model.table}\`). */
export type ${entry.typeName} = ${entry.type};
`);
      }
    }
    out.push(`/** Every destination this config publishes to, with its body type: \`Payload<OutboxBodies['/topic/…']>\`. */
export interface OutboxBodies {
${bodiesMap(view.models)}}
`);
  }

  for (const model of view.models) out.push(renderModel(model));

  out.push(`/**
 * Writes one event to the outbox in your transaction, with this config's table names and headers hook.
 * Returns the event's id (its \`dop-msg-id\`).
 *
 * @example
 * await db.transaction((tx) => publish(tx, { destination: '/topic/audit', body: { action: 'login' } }));
 */
export function publish<Body>(tx: OutboxTx, message: PublishMessage<Body>): Promise<string> {
  return publishWith(tx, message, target);
}
`);
  return out.join('\n');
}

function renderModel(m: ModelView): string {
  const list = m.entries.map((e) => `\`${e.destination}\``).join(', ');
  return `// ── ${m.key}

const ${m.key}Target = { ...target, name: ${JSON.stringify(m.key)} };
type ${m.pascal}Table = typeof models.${m.key}.table;
/** A row of \`${m.table}\`, as Drizzle selects it. */
export type ${m.pascal}Row = ${m.pascal}Table['$inferSelect'];
/** What \`insert${m.pascal}WithOutbox\` takes: a row of \`${m.table}\` to insert. */
export type New${m.pascal}Row = ${m.pascal}Table['$inferInsert'];

/**
 * Inserts \`${m.table}\` row(s) and, in the same transaction, for each inserted row one outbox row per
 * destination, in this order: ${list}.
 * \`tx\` must be a transaction (the root \`db\` is refused): an event commits with its row or not at all.
 *
 * @example
 * const row = await db.transaction((tx) => insert${m.pascal}WithOutbox(tx, { … }));
 */
export function insert${m.pascal}WithOutbox(tx: OutboxTx, values: New${m.pascal}Row): Promise<${m.pascal}Row>;
export function insert${m.pascal}WithOutbox(tx: OutboxTx, values: readonly New${m.pascal}Row[]): Promise<${m.pascal}Row[]>;
export async function insert${m.pascal}WithOutbox(
  tx: OutboxTx,
  values: New${m.pascal}Row | readonly New${m.pascal}Row[],
): Promise<${m.pascal}Row | ${m.pascal}Row[]> {
  const rows = await insertWithOutbox(tx, models.${m.key}, values, ${m.key}Target);
  return Array.isArray(values) ? rows : rows[0]!;
}

/**
 * Updates the \`${m.table}\` rows \`where\` selects and, in the same transaction, for each updated row one
 * outbox row per destination, in this order: ${list}. Returns the updated rows.
 *
 * @example
 * await db.transaction((tx) => update${m.pascal}WithOutbox(tx, eq(…), { … }));
 */
export function update${m.pascal}WithOutbox(tx: OutboxTx, where: SQL, set: PgUpdateSetSource<${m.pascal}Table>): Promise<${m.pascal}Row[]> {
  return updateWithOutbox(tx, models.${m.key}, where, set, ${m.key}Target);
}
`;
}

function bodiesMap(models: ModelView[]): string {
  const byDestination = new Map<string, string[]>();
  for (const m of models) {
    for (const e of m.entries) {
      const names = byDestination.get(e.destination) ?? [];
      if (!names.includes(e.typeName)) names.push(e.typeName);
      byDestination.set(e.destination, names);
    }
  }
  return [...byDestination].map(([destination, names]) => `  ${JSON.stringify(destination)}: ${names.join(' | ')};\n`).join('');
}

/**
 * What the command line may say, checked before a command runs. citty ignores an option it does not know
 * and an argument too many, so `outbox status --jsn` printed a table and `outbox relay extra` relayed as if
 * nothing was typed; here both are a usage mistake (exit 2) naming the word, with the nearest valid one.
 */
import type { ArgDef, ArgsDef, CommandDef } from 'citty';
import { closest } from '../config/keys.js';
import { OutboxError } from '../errors.js';

type Resolvable<T> = T | Promise<T> | (() => T) | (() => Promise<T>);

async function resolve<T>(value: Resolvable<T> | undefined): Promise<T | undefined> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value;
}

/** The command `rawArgs` name (walking sub-commands), the names on the way, and the words after it. */
export async function resolveCommand(root: CommandDef, rawArgs: string[]): Promise<{ command: CommandDef; parent?: CommandDef; path: string[]; rest: string[] }> {
  let command = root;
  let parent: CommandDef | undefined;
  const path: string[] = [];
  let rest = rawArgs;
  for (;;) {
    const subCommands = await resolve(command.subCommands as Resolvable<Record<string, Resolvable<CommandDef>>> | undefined);
    if (!subCommands || Object.keys(subCommands).length === 0) break;
    const [word, ...after] = rest;
    if (word === undefined || word.startsWith('-')) break;
    const next = Object.hasOwn(subCommands, word) ? await resolve(subCommands[word]) : undefined;
    if (!next) break;
    [parent, command] = [command, next];
    path.push(word);
    rest = after;
  }
  return { command, parent, path, rest };
}

/**
 * Throws `E_USAGE` for an unknown command, an unknown option, an option without its value, or more
 * positional arguments than the command takes. Help and version flags are handled before this.
 */
export async function checkUsage(root: CommandDef, rawArgs: string[]): Promise<void> {
  const { command, path, rest } = await resolveCommand(root, rawArgs);
  const name = ['outbox', ...path].join(' ');
  // What the line starts with (main.ts prefixes `outbox: `).
  const at = path.length ? path.join(' ') : 'outbox';
  const subCommands = await resolve(command.subCommands as Resolvable<Record<string, unknown>> | undefined);
  if (subCommands && Object.keys(subCommands).length > 0) {
    const word = rest.find((w) => !w.startsWith('-'));
    const known = Object.keys(subCommands);
    if (rest[0]?.startsWith('-')) throw usage(`${rest[0]}: options go after the command (\`${name} <command> ${rest[0]} …\`)`);
    if (word === undefined) throw usage(`${at}: which command? (${known.join(', ')})`);
    const near = closest(word, known);
    throw usage(`unknown command "${word}"${near ? ` (did you mean ${name} ${near}?)` : ` (commands: ${known.join(', ')})`}`);
  }
  const args = ((await resolve(command.args as Resolvable<ArgsDef> | undefined)) ?? {}) as Record<string, ArgDef>;
  const options = Object.entries(args).filter(([, def]) => def.type !== 'positional');
  const positionals = Object.entries(args).filter(([, def]) => def.type === 'positional');
  const optionNames = options.map(([key]) => kebab(key));

  const find = (flag: string): [string, ArgDef] | undefined =>
    options.find(([key, def]) => {
      const alias = (def as { alias?: string | string[] }).alias;
      const aliases = Array.isArray(alias) ? alias : alias ? [alias] : [];
      return kebab(key) === kebab(flag) || aliases.includes(flag);
    });

  let given = 0;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === '--') {
      given += rest.length - i - 1;
      break;
    }
    if (word.startsWith('-') && word !== '-') {
      const flag = word.replace(/^--?/, '').split('=')[0]!;
      const negated = flag.startsWith('no-') ? flag.slice(3) : undefined;
      const found = find(flag) ?? (negated ? find(negated) : undefined);
      if (!found || (negated && !find(flag) && found[1].type !== 'boolean')) {
        const near = closest(flag, optionNames);
        throw usage(
          `${at}: unknown option ${word.split('=')[0]}` +
            (near ? ` (did you mean --${near}?)` : optionNames.length ? ` (options: ${optionNames.map((o) => `--${o}`).join(', ')})` : ' (it takes none)'),
        );
      }
      const [key, def] = found;
      if ((def.type === 'string' || def.type === 'enum') && !word.includes('=')) {
        if (i + 1 >= rest.length) throw usage(`${at}: --${kebab(key)} needs a value`);
        i++;
      }
      continue;
    }
    given++;
    if (given > positionals.length) {
      const takes = positionals.length === 0 ? 'takes no arguments' : `takes at most ${positionals.map(([key]) => `<${key}>`).join(' ')}`;
      throw usage(`${at}: unexpected argument "${word}" (${name} ${takes})`);
    }
  }
}

const usage = (message: string) => new OutboxError('E_USAGE', message);

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

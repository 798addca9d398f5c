/**
 * Run configuration: a YAML file (optionally inheriting from others through `_base_`), then dotted overrides from
 * the command line (`train.epochs=3`), then the resolved tree written next to the outputs so a run can always be
 * reproduced from its own directory. Every command loads its configuration through here.
 *
 * Overrides may only set keys the configuration already has: a typo (`trian.epochs=3`) is an error listing the
 * keys that do exist, not a silently ignored setting. Values are parsed as YAML scalars/flow collections, so
 * `lr=1e-4`, `flag=true`, `sizes=[1,2]` and `name=null` get their natural types.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { writeFileAtomic } from './atomic.js';
import { InputError, UsageError } from './errors.js';

export type ConfigTree = { [key: string]: ConfigValue };
export type ConfigValue = string | number | boolean | null | ConfigValue[] | ConfigTree;

const BASE_KEY = '_base_';

function isTree(v: unknown): v is ConfigTree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: trees merge key by key, anything else (including arrays) is replaced. */
export function mergeConfig(base: ConfigTree, over: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

/** Read a YAML config file, resolving `_base_` (a path or list of paths relative to the file) recursively. */
export function readConfigFile(file: string, seen: string[] = []): ConfigTree {
  const abs = path.resolve(file);
  if (seen.includes(abs)) throw new InputError(file, `_base_ cycle: ${[...seen, abs].join(' -> ')}`);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read config (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(file, `invalid YAML: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line);
  }
  const parsed: unknown = doc.toJS() ?? {};
  if (!isTree(parsed)) throw new InputError(file, 'a config file must be a YAML mapping');
  const { [BASE_KEY]: baseRef, ...own } = parsed as ConfigTree;
  let merged: ConfigTree = {};
  const bases = baseRef === undefined || baseRef === null ? [] : Array.isArray(baseRef) ? baseRef : [baseRef];
  for (const b of bases) {
    if (typeof b !== 'string') throw new InputError(file, `${BASE_KEY} must be a path or a list of paths`);
    merged = mergeConfig(merged, readConfigFile(path.resolve(path.dirname(abs), b), [...seen, abs]));
  }
  return mergeConfig(merged, own);
}

/** All dotted leaf keys of a tree, for error messages. */
export function leafKeys(tree: ConfigTree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    isTree(v) && Object.keys(v).length > 0 ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

/** True for a command-line argument that looks like `a.b=value` rather than a path. */
export function isOverride(arg: string): boolean {
  return /^[A-Za-z_][\w-]*(\.[\w-]+)*=/.test(arg);
}

/** Apply one `a.b.c=value` override in place; the key must already exist. */
export function applyOverride(tree: ConfigTree, arg: string): void {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`config override '${arg}' is not of the form key.path=value`);
  const keyPath = arg.slice(0, eq).split('.');
  const raw = arg.slice(eq + 1);
  let value: ConfigValue;
  try {
    value = raw === '' ? '' : (YAML.parse(raw) as ConfigValue);
  } catch {
    value = raw;
  }
  let node: ConfigTree = tree;
  for (let i = 0; i < keyPath.length; i++) {
    const k = keyPath[i]!;
    if (!(k in node)) {
      const known = leafKeys(tree).join(', ');
      throw new UsageError(`unknown config key '${keyPath.slice(0, i + 1).join('.')}' in override '${arg}' (known: ${known})`);
    }
    if (i === keyPath.length - 1) {
      node[k] = value;
    } else {
      const next = node[k];
      if (!isTree(next)) throw new UsageError(`config key '${keyPath.slice(0, i + 1).join('.')}' is a value, not a section ('${arg}')`);
      node = next;
    }
  }
}

export interface LoadConfigOptions {
  /** Defaults of the command; the config file and overrides are layered on top. */
  defaults?: ConfigTree;
  /** Path of a YAML config file, if any. */
  file?: string;
  /** `a.b=value` arguments, applied in order. */
  overrides?: string[];
}

/** defaults ← file (with its `_base_` chain) ← overrides. */
export function loadConfig(opts: LoadConfigOptions): ConfigTree {
  let tree: ConfigTree = structuredClone(opts.defaults ?? {});
  if (opts.file) tree = mergeConfig(tree, readConfigFile(opts.file));
  for (const o of opts.overrides ?? []) applyOverride(tree, o);
  return tree;
}

/** Write the resolved configuration (atomically) so the outputs carry what produced them. */
export async function writeResolvedConfig(file: string, tree: ConfigTree): Promise<void> {
  const header = '# Resolved vlkit configuration: defaults, config file and command-line overrides applied.\n';
  await writeFileAtomic(file, header + YAML.stringify(tree));
}

/** Typed accessors that name the key when a value has the wrong type. */
export function getPath(tree: ConfigTree, dotted: string): ConfigValue | undefined {
  let node: ConfigValue | undefined = tree;
  for (const k of dotted.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[k];
  }
  return node;
}

export function requireNumber(tree: ConfigTree, dotted: string): number {
  const v = getPath(tree, dotted);
  if (typeof v !== 'number' || Number.isNaN(v)) throw new UsageError(`config '${dotted}' must be a number (got ${JSON.stringify(v)})`);
  return v;
}

export function requireString(tree: ConfigTree, dotted: string): string {
  const v = getPath(tree, dotted);
  if (typeof v !== 'string' || v === '') throw new UsageError(`config '${dotted}' must be a non-empty string (got ${JSON.stringify(v)})`);
  return v;
}

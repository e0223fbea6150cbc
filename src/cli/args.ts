// A small typed flag parser for the softnet commands (slow path only: runs once per command).
// Flags are declared camelCase in a spec and spelled kebab-case on the command line
// (`srcMac` <-> `--src-mac`). Accepted forms: `--flag value`, `--flag=value`, `--bool`,
// `--bool=true|false`, `--no-bool`. Every error names the flag and the bad value.
import { tryParseIPv4, tryParseMac } from '../wire/addr.ts';

/** A mistake in how the command was called: main prints it with a usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface Base {
  /** One line for the usage text. */
  help?: string;
  /** Value placeholder in usage text (`--dev IF`). */
  metavar?: string;
}
export interface BoolFlag extends Base { type: 'bool'; default?: boolean }
export interface StringFlag extends Base { type: 'string'; default?: string }
export interface EnumFlag extends Base { type: 'enum'; values: readonly string[]; default?: string }
export interface IntFlag extends Base { type: 'int'; min?: number; max?: number; default?: number }
export interface NumberFlag extends Base { type: 'number'; min?: number; max?: number; default?: number }
/** Parsed to 6 bytes. */
export interface MacFlag extends Base { type: 'mac'; default?: string }
/** Parsed to a host-order u32. */
export interface Ipv4Flag extends Base { type: 'ipv4'; default?: string }

export type FlagSpec = BoolFlag | StringFlag | EnumFlag | IntFlag | NumberFlag | MacFlag | Ipv4Flag;
export type Spec = Record<string, FlagSpec>;

type ValueOf<F> = F extends BoolFlag
  ? boolean
  : F extends IntFlag | NumberFlag | Ipv4Flag
    ? number
    : F extends MacFlag
      ? Uint8Array
      : string;
type HasDefault<F> = F extends { default: unknown } ? true : F extends BoolFlag ? true : false;

/** Parsed flags: a flag with a default (and every bool) is always present, others may be undefined. */
export type Parsed<S extends Spec> = {
  [K in keyof S]: HasDefault<S[K]> extends true ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
} & { _: string[] };

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Parse argv against spec. Positionals (and everything after `--`) go to `_`.
 * Throws UsageError on an unknown flag, a missing value or a value out of range.
 */
export function parseArgs<S extends Spec>(argv: readonly string[], spec: S): Parsed<S> {
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(spec)) byFlag.set(kebab(key), key);
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [key, f] of Object.entries(spec)) {
    if (f.type === 'bool') out[key] = f.default ?? false;
    else if (f.default !== undefined) out[key] = convert(key, f, String(f.default));
  }
  const pos = out._ as string[];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(`unknown option '${arg}' (options are spelled --name)`);
      }
      pos.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let inline: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    const key = byFlag.get(name);
    if (key === undefined && name.startsWith('no-') && inline === undefined) {
      const k = byFlag.get(name.slice(3));
      if (k !== undefined && spec[k].type === 'bool') {
        out[k] = false;
        continue;
      }
    }
    if (key === undefined) throw new UsageError(`unknown option '--${name}'${suggest(name, [...byFlag.keys()])}`);
    const f = spec[key];
    if (f.type === 'bool') {
      if (inline === undefined) out[key] = true;
      else if (inline === 'true' || inline === '1') out[key] = true;
      else if (inline === 'false' || inline === '0') out[key] = false;
      else throw new UsageError(`--${name}: expected true or false, got '${inline}'`);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length || (argv[i + 1].startsWith('--') && argv[i + 1].length > 2)) {
        throw new UsageError(`--${name} needs a value${f.metavar ? ` (${f.metavar})` : ''}`);
      }
      inline = argv[++i];
    }
    out[key] = convert(key, f, inline);
  }
  return out as Parsed<S>;
}

function convert(key: string, f: FlagSpec, v: string): unknown {
  const flag = `--${kebab(key)}`;
  switch (f.type) {
    case 'string':
      return v;
    case 'enum':
      if (!f.values.includes(v)) throw new UsageError(`${flag}: '${v}' is not one of ${f.values.join(', ')}`);
      return v;
    case 'int':
    case 'number': {
      const n = parseNumber(v);
      if (Number.isNaN(n)) throw new UsageError(`${flag}: '${v}' is not a number`);
      if (f.type === 'int' && !Number.isInteger(n)) throw new UsageError(`${flag}: '${v}' is not an integer`);
      if (f.min !== undefined && n < f.min) throw new UsageError(`${flag}: ${v} is below the minimum ${f.min}`);
      if (f.max !== undefined && n > f.max) throw new UsageError(`${flag}: ${v} is above the maximum ${f.max}`);
      return n;
    }
    case 'mac': {
      const m = tryParseMac(v);
      if (m === null) throw new UsageError(`${flag}: '${v}' is not a MAC address (expected six hex bytes, e.g. 02:00:00:00:00:01)`);
      return m;
    }
    case 'ipv4': {
      const a = tryParseIPv4(v);
      if (a === null) throw new UsageError(`${flag}: '${v}' is not an IPv4 address (expected a.b.c.d)`);
      return a;
    }
    case 'bool':
      return v === 'true';
  }
}

/** Decimal or 0x-hex, with optional `_`/`,` digit separators and k/M/G suffixes (1000-based). */
export function parseNumber(v: string): number {
  const s = v.trim().replace(/[_,]/g, '');
  if (s === '') return NaN;
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([kKmMgG]?)$/.exec(s);
  if (m === null) return NaN;
  const mult = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 }[m[2]] ?? 1;
  return Number(m[1]) * mult;
}

/** The options part of a usage text, generated from the spec. */
export function describeFlags(spec: Spec): string {
  const rows: [string, string][] = [];
  for (const [key, f] of Object.entries(spec)) {
    let left = `--${kebab(key)}`;
    if (f.type !== 'bool') left += ` ${f.metavar ?? (f.type === 'enum' ? f.values.join('|') : f.type.toUpperCase())}`;
    let right = f.help ?? '';
    if (f.type !== 'bool' && f.default !== undefined) right += ` (default ${f.default})`;
    rows.push([left, right.trim()]);
  }
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([l, r]) => `  ${l.padEnd(w)}  ${r}`).join('\n');
}

function suggest(name: string, known: string[]): string {
  let best = '';
  let bestD = 3;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best ? ` (did you mean --${best}?)` : '';
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = t;
    }
  }
  return prev[b.length];
}

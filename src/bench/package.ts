/**
 * Where the suite finds its files, the same from a git checkout (src/bench/*.ts) and from an
 * installed package (dist/bench/*.js): the package root is the nearest directory above this
 * module whose package.json is softnet's. From it: the `softnet` command (package.json `bin`), the
 * C sources (bench/c) and a directory to build them into.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The softnet package's root directory. */
export function packageRoot(): string {
  if (root !== null) return root;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let d = here; ; d = path.dirname(d)) {
    if (softnetPackage(d)) return (root = d);
    if (path.dirname(d) === d) throw new Error(`no softnet package.json above ${here}`);
  }
}

interface PackageJson {
  name?: string;
  bin?: string | Record<string, string>;
}

function softnetPackage(dir: string): PackageJson | null {
  try {
    const p = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    return p.name === 'softnet' ? p : null;
  } catch {
    return null;
  }
}

/**
 * Whether the package is a git checkout of its own (not one installed inside someone's project,
 * where `git` would find that project's repository instead).
 */
export function isCheckout(): boolean {
  return existsSync(path.join(packageRoot(), '.git'));
}

/** argv running this package's `softnet` command with the running node. */
export function softnetArgv(args: readonly string[]): string[] {
  const bin = softnetPackage(packageRoot())?.bin;
  const rel = typeof bin === 'string' ? bin : bin?.softnet;
  if (!rel) throw new Error(`${path.join(packageRoot(), 'package.json')} names no softnet command (bin)`);
  return [process.execPath, path.join(packageRoot(), rel), ...args];
}

/** The path of a module next to the calling one, with the caller's own extension (.ts or .js). */
export function sibling(moduleUrl: string, name: string): string {
  const self = fileURLToPath(moduleUrl);
  return path.join(path.dirname(self), name + path.extname(self));
}

/**
 * argv running a module next to the calling one as its own node process: plain node for the
 * built .js, tsx's loader (resolved from here, so any working directory does) for the .ts.
 */
export function nodeArgv(moduleUrl: string, name: string, args: readonly string[]): string[] {
  const file = sibling(moduleUrl, name);
  const loader = file.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  return [process.execPath, ...loader, file, ...args];
}

/**
 * Where results go by default: bench/results in a checkout (kept in git), ./softnet-bench in the
 * working directory otherwise (an installed package's directory is not the user's).
 */
export function defaultResultsDir(): string {
  return isCheckout() ? path.join(packageRoot(), 'bench/results') : path.resolve('softnet-bench');
}

/**
 * A writable directory for the C programs built from bench/c: the package's bench/bin, else
 * $XDG_CACHE_HOME/softnet/bin (~/.cache/softnet/bin), else a per-user directory under the system
 * temporary directory. Throws naming every directory tried.
 */
export function binDir(): string {
  const tried: string[] = [];
  const cache = process.env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : '');
  const candidates = [path.join(packageRoot(), 'bench/bin'), ...(cache ? [path.join(cache, 'softnet/bin')] : [])];
  for (const d of candidates) {
    if (writableDir(d)) return d;
    tried.push(d);
  }
  // A shared temporary directory: only one we own and nobody else can write, since root runs
  // what is built there.
  const tmp = path.join(os.tmpdir(), `softnet-bin-${process.getuid?.() ?? 'user'}`);
  if (writableDir(tmp, 0o700)) {
    const st = statSync(tmp);
    if (st.uid === process.getuid?.() && (st.mode & 0o022) === 0) return tmp;
  }
  tried.push(tmp);
  throw new Error(`no writable directory to build the C programs into (tried ${tried.join(', ')}); set XDG_CACHE_HOME to one`);
}

function writableDir(d: string, mode = 0o777): boolean {
  try {
    mkdirSync(d, { recursive: true, mode });
    accessSync(d, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

// Builds the C programs of bench/c (xsk_ref: the AF_XDP rxdrop/l2fwd reference; xsk_fwd: the
// generator, XDP_DROP and the AF_XDP forwarder) with gcc -O2 when the binary is missing or older
// than its source, into bench/bin or, where the package is not writable, a cache directory
// (package.ts: binDir). Needs gcc and the kernel uapi headers (linux-libc-dev).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { binDir, packageRoot } from './package.ts';

/** Path of an up-to-date NAME built from bench/c/NAME.c; throws with gcc's output. */
export function buildC(name: string): string {
  const root = packageRoot();
  const src = path.join(root, 'bench/c', `${name}.c`);
  if (!existsSync(src)) throw new Error(`${path.relative(root, src)} is missing`);
  const bin = path.join(binDir(), name);
  const dir = path.join(root, 'bench/c');
  // Any shared header (xsk_common.h, kernel_common.h) is newer: rebuild.
  const headers = readdirSync(dir).filter((f) => f.endsWith('.h'));
  const newest = Math.max(statSync(src).mtimeMs, ...headers.map((h) => statSync(path.join(dir, h)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Wno-missing-field-initializers', '-o', bin, src], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const why = (err.stderr || err.message).split('\n').slice(0, 3).join(' | ');
    throw new Error(`gcc ${path.relative(root, src)} -o ${bin} failed: ${why} (needs gcc and linux-libc-dev: bash scripts/deps.sh)`);
  }
  return bin;
}

/** The C AF_XDP reference (bench/c/xsk_ref.c). */
export function buildCRef(): string {
  return buildC('xsk_ref');
}

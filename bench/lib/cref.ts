// Builds the C AF_XDP reference (bench/c/xsk_ref.c) into bench/bin/xsk_ref with gcc -O2, when the
// binary is missing or older than its source. Needs gcc and the kernel uapi headers (linux-libc-dev).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CREF_SRC = path.join(root, 'bench/c/xsk_ref.c');
export const CREF_BIN = path.join(root, 'bench/bin/xsk_ref');

/** Path of an up-to-date xsk_ref binary; throws with gcc's output if the build fails. */
export function buildCRef(): string {
  if (existsSync(CREF_BIN) && statSync(CREF_BIN).mtimeMs >= statSync(CREF_SRC).mtimeMs) return CREF_BIN;
  mkdirSync(path.dirname(CREF_BIN), { recursive: true });
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-o', CREF_BIN, CREF_SRC], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`building the C reference failed: gcc -O2 -o ${CREF_BIN} ${CREF_SRC}\n${err.stderr || err.message}\n` +
      '(needs gcc and linux-libc-dev: bash scripts/deps.sh)');
  }
  return CREF_BIN;
}

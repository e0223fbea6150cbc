/** What a result says about where it ran: CPU, kernel, Node and the commit measured. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { isCheckout, packageRoot } from './package.ts';
import type { BenchResult } from './types.ts';

export function machineInfo(): BenchResult['machine'] {
  let commit = 'unknown';
  // Only the package's own checkout: an installed package's git would name the user's project.
  if (isCheckout()) {
    const cwd = packageRoot();
    try {
      commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'native', 'bench'], { cwd, encoding: 'utf8' }).trim();
      if (dirty) commit += '-dirty';
    } catch {
      /* git is not installed */
    }
  }
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpus: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit,
    hostname: os.hostname(),
  };
}

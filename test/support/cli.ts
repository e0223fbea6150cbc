// The `softnet` command as a person runs it: bin/softnet.js under this node, from the repository
// root (vitest's working directory).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { vi } from 'vitest';
import { nsExec, spawnInNs, type ExecResult } from '../../src/tools/lab.ts';
import { waitFor } from './wait.ts';

const SOFTNET = [process.execPath, 'bin/softnet.js'];

/**
 * Run softnet to completion, synchronously: for commands that need no stack in this process
 * (config checks, demo, the control-socket commands of a `softnet up` child). The timeout is a
 * deadline only.
 */
export function softnetSync(...args: string[]): ExecResult {
  const r = spawnSync(SOFTNET[0], [...SOFTNET.slice(1), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run softnet in namespace ns (null: the root one) to completion without blocking the event loop. */
export function softnet(args: string[], ns: string | null = null): Promise<ExecResult> {
  return nsExec(ns, [...SOFTNET, ...args], { timeoutMs: 120_000 });
}

/** Start a long-running softnet command (up, drop, capture) in ns; stdout/stderr are pipes. Stop it by its PID. */
export function spawnSoftnet(args: string[], ns: string | null = null): ChildProcess {
  return spawnInNs(ns, [...SOFTNET, ...args]);
}

/** A `softnet up` child: what it printed (stdout and stderr together), its exit code (128 after a signal). */
export interface UpChild {
  c: ChildProcess;
  out: () => string;
  exit: Promise<number>;
  /** SIGTERM unless it has exited; resolves to its exit code. */
  stop: () => Promise<number>;
}

/** Start `softnet up ARGS` and wait until it says 'ready'; stopped again (and the wait's error thrown) if not. */
export async function startUp(args: string[], timeoutMs?: number): Promise<UpChild> {
  const c = spawnSoftnet(['up', ...args]);
  let out = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number>((res) => c.on('exit', (code, sig) => res(code ?? (sig ? 128 : -1))));
  const stop = () => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    return exit;
  };
  try {
    await waitFor('softnet up to be ready', () => out.includes('ready'), { timeoutMs, detail: () => out });
  } catch (e) {
    await stop();
    throw e;
  }
  return { c, out: () => out, exit, stop };
}

/**
 * The CLI's main() run in this process (unit tests): what it writes to stdout and stderr is kept,
 * not printed. The test restores the streams (vi.restoreAllMocks() in afterEach).
 */
export function captureOutput(): { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out: () => out.join(''), err: () => err.join('') };
}

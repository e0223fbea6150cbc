// Child processes for lab benchmarks: started (pinned, in a namespace) by PID, output collected,
// readiness seen on a line of output, stopped with SIGINT (SIGKILL after a grace period).
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../../src/tools/lab.ts';
import { pinned } from './cpu.ts';

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** Resolves when a line matching `ready` appears (or the process exits). */
  ready: Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Lines of stderr so far (progress). */
  onLine(cb: (line: string) => void): void;
}

export function startProc(ns: string | null, cpu: number | null, argv: readonly string[], ready: RegExp | null = null): Proc {
  const child = spawnInNs(ns, pinned(cpu, argv));
  let stdout = '';
  let stderr = '';
  let partial = '';
  const listeners: ((l: string) => void)[] = [];
  let markReady: () => void = () => undefined;
  const readyP = ready === null ? Promise.resolve() : new Promise<void>((res) => (markReady = res));
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    if (ready && ready.test(stdout)) markReady();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (ready && ready.test(l)) markReady();
      for (const cb of listeners) cb(l);
    }
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => {
      markReady();
      res({ code, signal, stdout, stderr });
    }),
  );
  return { child, pid: child.pid!, ready: readyP, done, onLine: (cb) => listeners.push(cb) };
}

/** SIGINT, then SIGKILL after graceMs; resolves with the output. */
export async function stopProc(p: Proc, graceMs = 5000) {
  const kill = (sig: NodeJS.Signals) => {
    try {
      // ip netns exec execs the command, so the PID is the tool's own.
      process.kill(p.pid, sig);
    } catch {
      /* already exited */
    }
  };
  kill('SIGINT');
  const t = setTimeout(() => kill('SIGKILL'), graceMs);
  const r = await p.done;
  clearTimeout(t);
  return r;
}

/** The last line of stdout that parses as a JSON object, or null. */
export function lastJson(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

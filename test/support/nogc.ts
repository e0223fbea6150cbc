// The one no-GC harness for every *nogc* test: the load runs in a child process (see
// nogc-child.ts) started with --expose-gc, gc() before measuring, the stage-clock sampling off,
// and the test states its allowance (GCs, bytes per packet, retained bytes) explicitly.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export interface NoGcResult {
  /** Packets the measured run processed. */
  n: number;
  secs: number;
  /** Every GC during the measured run: V8's type name (Scavenge, MarkSweepCompact, ...) and ms. */
  gcs: Array<{ type: string; ms: number }>;
  /** used_heap_size growth across the run (exact when no GC ran). */
  allocated: number;
  /** used_heap_size growth that survives a full gc() after the run. */
  retained: number;
  extra: Record<string, unknown>;
}

export interface NoGcAllowance {
  /** Most GCs allowed in the measured run (all must be scavenges: a full GC never is). */
  scavenges: number;
  /**
   * Heap growth allowed: fixedBytes once (the JIT finishing optimized code during the run, the
   * profiler itself: measured ~0.25 MB, not growing with the packet count) plus bytesPerPacket
   * per packet (one object per packet would be >= 16 B).
   */
  fixedBytes: number;
  bytesPerPacket: number;
  /** Heap growth that may survive a full GC. */
  retainedBytes: number;
}

/**
 * Run `child` (a module calling measureNoGc) in `node --expose-gc --import tsx`; its result.
 * The young generation is fixed at 16 MB (V8 would start at 1 MB after gc() and grow), so the
 * count of scavenges depends on what the load allocates, not on how far V8 had grown it. The
 * memory reducer is off: it starts full GCs on a timer (8 s after a GC, when allocation is
 * low) to shrink the heap, so a run slowed down by a loaded machine would see GCs that no
 * allocation caused (measured: 2-4 MarkSweepCompact per 10 s run under two `yes` hogs).
 * Optimisation is synchronous (--no-concurrent-recompilation): a (re)optimisation that V8 queues
 * for its background thread, starved by a loaded machine, left the measured loop running
 * unoptimised code that boxes numbers (conntrack: 10 MB, 2.6 B/packet, in 1 of 4 runs under two
 * hogs; 0 of 8 with the flag).
 */
export function runNoGc(child: URL, args: string[] = [], timeoutMs = 170_000): Promise<NoGcResult> {
  const file = fileURLToPath(child);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', '--no-memory-reducer', '--no-concurrent-recompilation', '--import', 'tsx', file, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`no-GC child ${file} failed (${err.message.split('\n')[0]}): ${stderr.trim() || stdout.trim()}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as NoGcResult);
      } catch {
        reject(new Error(`no-GC child ${file} printed no result line: ${stdout.trim()} ${stderr.trim()}`));
      }
    });
  });
}

/** One line for the test log: what was measured and what it cost. */
export function describeNoGc(label: string, r: NoGcResult): string {
  const gcs = r.gcs.map((g) => `${g.type} ${g.ms.toFixed(2)} ms`).join('; ');
  return (
    `${label}: ${(r.n / 1e6).toFixed(2)} M packets in ${r.secs.toFixed(2)} s (${(r.n / r.secs / 1e6).toFixed(2)} Mpps), ` +
    `GCs: ${r.gcs.length}${gcs ? ` (${gcs})` : ''}, allocated ${r.allocated} B (${(r.allocated / r.n).toFixed(4)} B/packet), retained ${r.retained} B`
  );
}

/** Assert the stated allowance. */
export function expectNoGc(r: NoGcResult, allow: NoGcAllowance): void {
  expect(
    r.gcs.filter((g) => !/scavenge/i.test(g.type)),
    'no full GC',
  ).toEqual([]);
  expect(r.gcs.length, `at most ${allow.scavenges} scavenges`).toBeLessThanOrEqual(allow.scavenges);
  expect(r.allocated, `heap growth <= ${allow.fixedBytes} B + ${allow.bytesPerPacket} B/packet`).toBeLessThan(allow.fixedBytes + allow.bytesPerPacket * r.n);
  expect(r.retained, 'retained after a full GC').toBeLessThan(allow.retainedBytes);
}

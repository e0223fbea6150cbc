// Instruction counts with valgrind's callgrind, for A/B decisions that times on a shared 2-core box
// cannot make (runs of the same code differ by up to 2x there; counts do not move with the load).
// Counting runs only inside one function (--toggle-collect): the caller puts the work to count in
// it. For a node process, per-function counts of JIT code come from V8's perf map
// (--perf-basic-prof writes /tmp/perf-PID.map: start, size, name), which valgrind does not read:
// callgrind names code without a symbol by its address, and the map says whose it is.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Counted {
  /** Instructions executed inside the toggle function (inclusive). */
  total: number;
  /** Self instructions per function (a JS function's name from V8's perf map when there is one). */
  byFn: Map<string, number>;
}

/** Runs cmd under callgrind, counting only inside function `fn`; throws naming what failed. */
export function callgrind(cmd: string, argv: readonly string[], fn: string): Counted {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sn-callgrind-'));
  try {
    const r = spawnSync(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, '--collect-atstart=no', `--toggle-collect=${fn}`, '--smc-check=all-non-file', cmd, ...argv],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 },
    );
    const m = /Collected : (\d+)/.exec(r.stderr ?? '');
    const out = readdirSync(dir).find((f) => f.startsWith('cg.'));
    if (r.error !== undefined || r.status !== 0 || m === null || out === undefined) {
      const why = r.error?.message ?? (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
      throw new Error(`valgrind --tool=callgrind ${path.basename(cmd)} failed (exit ${r.status}): ${why} (needs valgrind: bash scripts/deps.sh)`);
    }
    const pid = out.slice(3);
    // --perf-basic-prof also makes V8 log code events to isolate-*-PID-v8.log in the working directory.
    for (const f of readdirSync('.')) if (f.startsWith('isolate-') && f.endsWith(`-${pid}-v8.log`)) rmSync(f, { force: true });
    return { total: Number(m[1]), byFn: named(selfCosts(path.join(dir, out)), perfMap(pid)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Self cost per function of a callgrind.out file (the first event, Ir). Cost lines follow `fn=`;
 * the line after `calls=` is the callee's inclusive cost and is not the caller's own. Names are
 * compressed: `(id) name` the first time (in `fn=` or `cfn=`), `(id)` after.
 */
function selfCosts(file: string): Map<string, number> {
  const ids = new Map<string, string>();
  const costs = new Map<string, number>();
  let fn = '';
  let callee = false;
  // A name's first use may be as a callee (cfn=): its id is defined there.
  const name = (ref: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(ref);
    if (m === null) return ref;
    if (m[2] !== undefined) ids.set(m[1], m[2]);
    return ids.get(m[1]) ?? ref;
  };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('fn=')) fn = name(line.slice(3));
    else if (line.startsWith('cfn=')) name(line.slice(4));
    else if (line.startsWith('calls=')) callee = true;
    else if (/^[+\-*0-9]/.test(line)) {
      if (callee) callee = false;
      else costs.set(fn, (costs.get(fn) ?? 0) + Number(line.split(' ')[1] ?? 0));
    }
  }
  return costs;
}

interface MapEntry {
  start: number;
  end: number;
  name: string;
}

/** V8's perf map of process pid, sorted by address; empty when the process wrote none. */
function perfMap(pid: string): MapEntry[] {
  const file = `/tmp/perf-${pid}.map`;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  rmSync(file, { force: true });
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m === null) continue;
    const start = parseInt(m[1], 16);
    out.push({ start, end: start + parseInt(m[2], 16), name: m[3] });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Costs of functions callgrind named by address (`0x...`) summed under the perf map's names. */
function named(costs: Map<string, number>, map: MapEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [fn, c] of costs) {
    const m = /^0x([0-9a-f]+)$/.exec(fn);
    const name = m === null ? fn : (find(map, parseInt(m[1], 16)) ?? fn);
    out.set(name, (out.get(name) ?? 0) + c);
  }
  return out;
}

function find(map: MapEntry[], a: number): string | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid].end <= a) lo = mid + 1;
    else if (map[mid].start > a) hi = mid - 1;
    else return map[mid].name;
  }
  return undefined;
}

// `softnet bench --quick` end to end with a tiny duration: every scenario either produces entries
// of the result JSON's shape (BenchResult, src/bench/types.ts) or is reported as "not run:
// reason"; the lab is gone afterwards.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDown, labParts } from '../../src/tools/lab.ts';
import { SCENARIOS } from '../../src/bench/scenarios.ts';
import type { BenchResult } from '../../src/bench/types.ts';

const root = path.resolve(import.meta.dirname, '../..');
const LAB = 'benchq';
const isRoot = process.getuid?.() === 0;
const out = mkdtempSync(path.join(os.tmpdir(), `sn-${LAB}-`));

afterAll(async () => {
  if (isRoot) await labDown(LAB);
  rmSync(out, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/softnet.js'), 'bench', ...args], { cwd: root, timeout: 420_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('softnet bench --quick', () => {
  it('rejects bad options with a usage error', async () => {
    const r = await run(['--scenario', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown scenario 'nope'/);
    const l = await run(['--link', '5g']);
    expect(l.code).toBe(2);
  });

  it('runs every scenario end to end (or says why not)', { timeout: 450_000 }, async () => {
    const json = path.join(out, 'quick.json');
    const r = await run(['--quick', '--seconds', '1', '--sizes', '64', '--lab', LAB, '--out', out, '--json', json]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    // Wall time is logged, not asserted: it measures the machine's load as much as softnet.
    console.log(`bench --quick took ${(r.ms / 1000).toFixed(1)} s`);
    // live progress on stderr, the table on stdout
    expect(r.stderr).toMatch(/\[[#-]{20}\] \d+\/\d+/);
    expect(r.stdout).toMatch(/^# softnet benchmark/m);
    const res = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    expect(JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8'))).toEqual(res);
    expect(existsSync(path.join(out, 'latest.md'))).toBe(true);
    expect(res.schema).toBe('softnet-bench/1');
    for (const k of ['cpuModel', 'kernel', 'node', 'commit']) expect(typeof (res.machine as unknown as Record<string, unknown>)[k]).toBe('string');
    // every scenario accounted for
    const seen = new Set([...res.scenarios.map((e) => e.name), ...res.notRun.map((s) => s.name)]);
    // A module may give several scenarios (tcp: tcp-bulk, tcp-http, ...), named after it.
    for (const s of SCENARIOS) expect([...seen].some((n) => n === s || n.startsWith(`${s}-`)), `scenario ${s} neither run nor reported`).toBe(true);
    for (const s of res.notRun) expect(s.reason.length).toBeGreaterThan(0);
    for (const e of res.scenarios) {
      // Packet-rate and latency scenarios follow --sizes; TCP goodput runs full-sized segments (1518).
      expect(e.frameSize).toBe(e.metric === 'gbit/s' ? 1518 : 64);
      expect(typeof e.systems).toBe('object');
      for (const [name, sys] of Object.entries(e.systems)) {
        if (sys.status === 'not-run') {
          expect(sys.reason, `${e.name}/${name}`).toMatch(/^not run: /);
          expect(sys.median).toBeUndefined();
        } else if (e.metric === 'rtt-us') {
          expect(sys.p50! <= sys.p99! && sys.p99! <= sys.p999!).toBe(true);
        } else {
          // a rate: Mpps, Gbit/s, connections or requests per second
          expect(sys.min! <= sys.median! && sys.median! <= sys.max!, `${e.name}/${name}`).toBe(true);
          expect(sys.median!, `${e.name}/${name}`).toBeGreaterThan(0);
        }
      }
      for (const [b, q] of Object.entries(e.ratios)) {
        const both = e.systems[b]?.status === 'ok' && Object.values(e.systems)[0].status === 'ok';
        if (q === null) expect(e.ratioNotes?.[b]).toBeTruthy();
        else expect(both).toBe(true);
      }
    }
    if (isRoot) {
      const rx = res.scenarios.find((e) => e.name === 'rxdrop');
      expect(rx, 'rxdrop must run as root').toBeTruthy();
      expect(rx!.systems['kernel-xdp-drop'].status).not.toBe('not-run');
      expect(rx!.systems['c-rxdrop'].status).not.toBe('not-run');
      const p = await labParts(LAB);
      expect([...p.namespaces, ...p.links]).toEqual([]);
      const { stdout } = await new Promise<{ stdout: string }>((res2) => execFile('ip', ['-d', 'link', 'show'], (_e, so) => res2({ stdout: so })));
      expect(stdout).not.toMatch(new RegExp(`sn${LAB}`));
    }
  });
});

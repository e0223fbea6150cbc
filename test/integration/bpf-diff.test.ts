// The same filter module run in JS (XdpContext at the very end of its buffer) and compiled to
// eBPF in the kernel (BPF_PROG_TEST_RUN) over the same frames: well-formed, VLAN/QinQ, IP
// options, fragments, malformed headers, every truncation, random mutations. Same verdicts.
// Needs bpf() (root); no devices or namespaces.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfCompileError, BpfVerifierError } from '../../src/bpf/errors.ts';
import { placeXdpFilter } from '../../src/bpf/offload.ts';
import { compileFilter, compileFilterSource, loadFilter } from '../../src/bpf/compile.ts';
import type { XdpContext } from '../../src/core/xdp-helpers.ts';
import { loadXdpModule } from '../../src/core/xdp.ts';
import type { XdpMap } from '../../src/core/xdp-map.ts';
import { frameCorpus, jsVerdict, randomFilter } from '../support/bpf-diff.ts';

const root = process.getuid?.() === 0;
const XDP = resolve('src/core/xdp-helpers.ts');
const dir = mkdtempSync(join(tmpdir(), 'sn-bpf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frames = frameCorpus(7, 400);

async function jsFilter(path: string): Promise<(ctx: XdpContext) => unknown> {
  return (await import(pathToFileURL(path).href)).default;
}

let distinct = 0;
/** Frames where the two disagree: [index, js, kernel]. Counts filters whose verdict varies (in `distinct`). */
function differences(path: string, f: (ctx: XdpContext) => unknown): Array<[number, number, number]> {
  const l = loadFilter(compileFilter(path));
  try {
    const bad: Array<[number, number, number]> = [];
    const seen = new Set<number>();
    frames.forEach((fr, i) => {
      const js = jsVerdict(f, fr);
      const k = l.run(fr);
      seen.add(k);
      if (js !== k) bad.push([i, js, k]);
    });
    if (seen.size > 1) distinct++;
    return bad;
  } finally {
    l.close();
  }
}

describe.skipIf(!root)('compiled filters agree with JS (BPF_PROG_TEST_RUN)', () => {
  it('hand-written filters using every accessor', async () => {
    const src = `import { XDP_DROP, XDP_PASS, XDP_TX, type XdpContext } from '${XDP}';
const PORTS = new Uint16Array([19, 53, 1900, 11211]);
const IPPROTO_UDP = 17;
function blocked(p: number): boolean {
  for (const x of PORTS) if (p === x) return true;
  return false;
}
export default (ctx: XdpContext) => {
  if (ctx.ethType() !== 0x0800) return ctx.vlanId() === 100 ? XDP_DROP : XDP_PASS;
  if (ctx.ipProto() === IPPROTO_UDP && blocked(ctx.l4Dport())) return XDP_DROP;
  const f = ctx.tcpFlags();
  if (f >= 0 && (f & 0x12) === 0x02 && (ctx.ipSrc() >>> 24) === 192) return XDP_TX;
  if (ctx.ipTtl() === 64 && ctx.l4Sport() === 1 && ctx.l4Offset() > 34) return XDP_TX;
  return ctx.ipDst() === 0x0a000001 && ctx.l3Offset() === 14 ? XDP_PASS : XDP_DROP;
};
`;
    const path = join(dir, 'hand.ts');
    writeFileSync(path, src);
    expect(differences(path, await jsFilter(path))).toEqual([]);
  });

  it('a generated family of random filters', async () => {
    let compiled = 0;
    const refused: string[] = [];
    for (let seed = 1; seed <= 60; seed++) {
      const path = join(dir, `r${seed}.ts`);
      writeFileSync(path, randomFilter(seed, XDP));
      try {
        compileFilter(path);
      } catch (e) {
        if (!(e instanceof BpfCompileError)) throw e;
        refused.push(e.message);
        continue;
      }
      compiled++;
      const d = differences(path, await jsFilter(path));
      expect(d, `seed ${seed}: frames [index, js, kernel]`).toEqual([]);
    }
    // Refusals are the range proofs at work (e.g. a sum that may leave ±2^53); most compile.
    expect(compiled, refused.join('\n')).toBeGreaterThanOrEqual(45);
    // The frames tell the filters' branches apart (else agreeing would prove little).
    expect(distinct).toBeGreaterThanOrEqual(30);
  });
});

/** Every entry, sorted by key, as [key, fields...]. */
const contents = (m: XdpMap) => m.backend.entries().sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, ...v]);

/**
 * A filter module with maps and time, run in JS (the module's own maps) and in the kernel (fresh
 * maps holding what the module's held at the start, a test clock set to the same ms per frame)
 * over `rounds` passes of the corpus, `stepMs` apart: verdicts, the maps' contents at the end,
 * and the kernel's per-verdict counters against the JS verdicts.
 */
async function statefulDifferences(path: string, rounds: number, stepMs: number, setup?: (maps: XdpMap[]) => void) {
  const { filter, maps } = await loadXdpModule(path);
  setup?.(maps);
  const l = loadFilter(compileFilter(path), { clock: 'map' });
  try {
    maps.forEach((m, i) => {
      const arr = m.spec.type === 'array' || m.spec.type === 'percpu_array';
      for (const [k, v] of m.backend.entries()) v.forEach((x, f) => (x !== 0 || !arr) && l.maps[i].backend.set(k, f, x));
    });
    const bad: Array<[number, number, number]> = [];
    const counts = [0, 0, 0, 0, 0];
    let now = 5000;
    for (let r = 0; r < rounds; r++)
      frames.forEach((fr, i) => {
        now += stepMs;
        l.setClock(now);
        const js = jsVerdict(filter, fr, now);
        const k = l.run(fr);
        counts[js]++;
        if (js !== k) bad.push([r * frames.length + i, js, k]);
      });
    const v = l.verdicts();
    return {
      bad,
      counts,
      kernelCounts: [v.aborted, v.drop, v.pass, v.tx, v.redirect],
      js: maps.map(contents),
      kernel: l.maps.map(contents),
    };
  } finally {
    l.close();
  }
}

describe.skipIf(!root)('the example filters (maps, time) agree with JS, maps included', () => {
  const cases: Array<[string, number, number, ((m: XdpMap[]) => void)?]> = [
    ['filters/blocklist.ts', 1, 0],
    // A low rate so buckets run dry and refill within the run (5/s, bursts of 3).
    ['filters/syn-guard.ts', 4, 3, (m) => (m[0].set(0, 5), m[0].set(1, 3))],
    ['filters/rate-limit.ts', 3, 1],
    ['filters/vlan-classify.ts', 1, 0],
  ];
  for (const [path, rounds, step, setup] of cases)
    it(path, async () => {
      const d = await statefulDifferences(path, rounds, step, setup);
      expect(d.bad, 'frames [index, js, kernel]').toEqual([]);
      expect(d.kernel).toEqual(d.js);
      expect(d.kernelCounts).toEqual(d.counts);
      // Both verdicts happen (else agreeing would prove little), and the maps were written.
      expect(d.counts[1]).toBeGreaterThan(0);
      expect(d.counts[2]).toBeGreaterThan(0);
      expect(d.js.some((m) => m.length > 0)).toBe(true);
    });
});

describe('refusals name the place and what to do', () => {
  const refuse = (src: string) => {
    try {
      compileFilterSource('f.ts', src);
    } catch (e) {
      expect(e).toBeInstanceOf(BpfCompileError);
      return (e as BpfCompileError).message;
    }
    throw new Error('compiled');
  };
  it('a factory (closure state) is refused at its default export', () => {
    expect(refuse(`const make = () => (ctx) => 2;\nexport default make();`)).toMatch(/^f\.ts:2:16: the default export is the result of a call \(make\(\.\.\.\)\).*defineMap/);
  });
  it('maps: a spec the compiler cannot read, a record without its field, set as a value', () => {
    const head = `import { defineMap } from 'softnet/xdp';\n`;
    expect(refuse(`${head}const m = defineMap({ type: 'tree', key: 'u32', value: 'u32', maxEntries: 4 });\nexport default (ctx) => 2;`)).toMatch(/^f\.ts:2:29: defineMap for m: type must be one of 'hash'/);
    expect(refuse(`${head}const m = defineMap({ type: 'hash', key: 'u32', value: { a: 'u32' }, maxEntries: 4 });\nexport default (ctx) => m.get(1) ? 1 : 2;`)).toMatch(/^f\.ts:3:25: m's value is a record: name the field/);
    expect(refuse(`${head}const m = defineMap({ type: 'hash', key: 'u32', value: 'u32', maxEntries: 4 });\nexport default (ctx) => { const x = m.set(1, 2); return 2; };`)).toMatch(/^f\.ts:3:37: m\.set\(\) as a value/);
  });
  it('loops, division, time, precision, table bounds', () => {
    expect(refuse(`export default (ctx) => { while (true) {} };`)).toMatch(/^f\.ts:1:27: while\/do loops .* — use for \(let i = 0/);
    expect(refuse(`export default (ctx) => ctx.l4Dport() / 2;`)).toMatch(/^f\.ts:1:39: operator \/ .*use >>/);
    expect(refuse(`export default (ctx) => ctx.ifindex > 5 ? 1 : 2;`)).toMatch(/^f\.ts:1:25: ctx\.ifindex .*device index/);
    expect(refuse(`export default (ctx) => ctx.ipSrc() * ctx.ipSrc() > 1 ? 1 : 2;`)).toMatch(/may leave ±2\^53/);
    expect(refuse(`const T = [1, 2];\nexport default (ctx) => T[ctx.u8At(0)];`)).toMatch(/^f\.ts:2:27: index ctx\.u8At\(0\) may be outside T \(its range is -1\.\.255/);
    expect(refuse(`let n = 0;\nexport default (ctx) => n;`)).toMatch(/^f\.ts:2:25: module-level n is mutable/);
    expect(refuse(`const T = [1, 2];\nT[0] = 3;\nexport default (ctx) => T[ctx.u8At(0) & 1];`)).toMatch(/^f\.ts:2:1: table T is modified here/);
  });
});

it('compiles the examples under 200 ms', () => {
  const src = `import { XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';
const BLOCKED = new Uint8Array(65536);
export default (ctx: XdpContext) => {
  if (ctx.ipProto() !== 17) return XDP_PASS;
  const d = ctx.l4Dport();
  return d >= 0 && BLOCKED[d] === 1 ? XDP_DROP : XDP_PASS;
};
`;
  const c = compileFilterSource('b.ts', src);
  expect(c.ms).toBeLessThan(200);
  compileFilter('filters/vlan-classify.ts'); // warm: the first compile pays for the TS parser's JIT
  for (const f of ['blocklist', 'syn-guard', 'rate-limit', 'vlan-classify']) expect(compileFilter(`filters/${f}.ts`).ms, f).toBeLessThan(200);
});

describe.skipIf(!root)('loading', () => {
  it('a verifier refusal comes back at the source line of the refused instruction', () => {
    const src = `import { XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';
export default (ctx: XdpContext) => {
  const t = ctx.u8At(3);
  return ctx.u16At(20) === 7 ? XDP_DROP : XDP_PASS;
};
`;
    const c = compileFilterSource('v.ts', src);
    // Make the u16 read on line 4 reach past its bounds guard: what the verifier exists to catch.
    const read = c.insns.findIndex((i, pc) => i.code === 0x69 && c.srcmap[pc].line === 4);
    expect(read).toBeGreaterThan(0);
    c.insns[read] = { ...c.insns[read], off: 8 };
    let err: unknown;
    try {
      loadFilter(c).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfVerifierError);
    const v = err as BpfVerifierError;
    expect(v.message).toMatch(/^v\.ts:4:10: the kernel verifier refused the compiled filter \(EACCES\) at instruction \d+: .*(invalid access to packet|outside of the packet)/);
    expect(v.log).toContain('processed');
  });

  it('offload auto: a refused filter runs in JS and the log says where and why', async () => {
    const lines: string[] = [];
    const refused = join(dir, 'refused.ts');
    writeFileSync(refused, `const make = () => (ctx: unknown) => 2;\nexport default make();\n`);
    const p = await placeXdpFilter(refused, 'auto', (l) => lines.push(l));
    expect(p.kernel).toBeNull();
    expect(typeof p.filter).toBe('function');
    expect(lines).toEqual([expect.stringMatching(/^xdp: .*refused\.ts runs in JS, not in the kernel: .*refused\.ts:2:16: the default export is the result of a call/)]);
    await expect(placeXdpFilter(refused, 'kernel')).rejects.toThrow(BpfCompileError);
    const path = join(dir, 'ok.ts');
    writeFileSync(path, `import { XDP_DROP, XDP_PASS, type XdpContext } from '${XDP}';\nexport default (ctx: XdpContext) => (ctx.l4Dport() === 53 ? XDP_DROP : XDP_PASS);\n`);
    const k = await placeXdpFilter(path, 'auto', (l) => lines.push(l));
    expect(k.kernel).not.toBeNull();
    k.kernel!.close();
    expect(lines.length).toBe(1);
  });
});

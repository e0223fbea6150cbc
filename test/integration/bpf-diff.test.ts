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
  it('the existing examples are factories (closure state): refused at their default export', () => {
    expect(() => compileFilter('filters/blocklist.ts')).toThrow(/blocklist\.ts:\d+:16: the default export is the result of a call \(createBlocklist\(\.\.\.\)\)/);
    expect(() => compileFilter('filters/syn-guard.ts')).toThrow(/syn-guard\.ts:\d+:16: the default export is the result of a call \(createSynGuard/);
  });
  it('loops, division, time, precision, table bounds', () => {
    expect(refuse(`export default (ctx) => { while (true) {} };`)).toMatch(/^f\.ts:1:27: while\/do loops .* — use for \(let i = 0/);
    expect(refuse(`export default (ctx) => ctx.l4Dport() / 2;`)).toMatch(/^f\.ts:1:39: operator \/ .*use >>/);
    expect(refuse(`export default (ctx) => ctx.nowMs > 5 ? 1 : 2;`)).toMatch(/^f\.ts:1:25: ctx\.nowMs .*offload: js/);
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
    const p = await placeXdpFilter('filters/blocklist.ts', 'auto', (l) => lines.push(l));
    expect(p.kernel).toBeNull();
    expect(typeof p.filter).toBe('function');
    expect(lines).toEqual([expect.stringMatching(/^xdp: filters\/blocklist\.ts runs in JS, not in the kernel: filters\/blocklist\.ts:\d+:\d+: the default export is the result of a call/)]);
    await expect(placeXdpFilter('filters/blocklist.ts', 'kernel')).rejects.toThrow(BpfCompileError);
    const path = join(dir, 'ok.ts');
    writeFileSync(path, `import { XDP_DROP, XDP_PASS, type XdpContext } from '${XDP}';\nexport default (ctx: XdpContext) => (ctx.l4Dport() === 53 ? XDP_DROP : XDP_PASS);\n`);
    const k = await placeXdpFilter(path, 'auto', (l) => lines.push(l));
    expect(k.kernel).not.toBeNull();
    k.kernel!.close();
    expect(lines.length).toBe(1);
  });
});

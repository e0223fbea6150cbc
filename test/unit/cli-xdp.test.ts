import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { captureOutput as capture } from '../support/cli.ts';

afterEach(() => vi.restoreAllMocks());

describe('softnet xdp compile', () => {
  it('prints the instruction count and the maps of an example filter', async () => {
    const c = capture();
    expect(await main(['xdp', 'compile', 'filters/syn-guard.ts'])).toBe(0);
    const n = Number(/^filters\/syn-guard\.ts: (\d+) insns \((\d+) bytes\)/.exec(c.out())?.[1]);
    expect(n).toBeGreaterThan(10);
    expect(c.out()).toContain(`(${n * 8} bytes)`);
    expect(c.out()).toMatch(/map buckets: lru_hash +key 4B +value 16B +max_entries 65536/);
    expect(c.out()).toMatch(/map params: array /);
    expect(c.out()).not.toContain(' 0: (');
  });

  it('--dump: every instruction once, numbered, under the TS line it came from', async () => {
    const c = capture();
    expect(await main(['xdp', 'compile', 'filters/blocklist.ts', '--dump'])).toBe(0);
    const n = Number(/: (\d+) insns/.exec(c.out())?.[1]);
    const lines = c.out().split('\n');
    const insns = lines.filter((l) => /^ *\d+: \([0-9a-f]{2}\) /.test(l));
    // ld_imm64 takes two slots and prints once, so at most n lines; every pc ascending
    expect(insns.length).toBeGreaterThan(n / 2);
    expect(insns.length).toBeLessThanOrEqual(n);
    const pcs = insns.map((l) => Number(l.trim().split(':')[0]));
    expect(pcs[0]).toBe(0);
    for (let i = 1; i < pcs.length; i++) expect(pcs[i]).toBeGreaterThan(pcs[i - 1]);
    expect(insns.at(-1)).toMatch(/\(95\) exit/);
    // the source lines: the default export's line of blocklist.ts, in bpftool's "; source [file:line]" shape
    expect(lines.some((l) => /^; export default .*\[blocklist\.ts:\d+\]$/.test(l))).toBe(true);
    // the first instruction line comes after a source line
    expect(lines.findIndex((l) => l.startsWith('; '))).toBeLessThan(lines.findIndex((l) => /^ *0: /.test(l)));
  });

  it('a refusal: file:line:col, what to do, the line with a caret, exit 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sn-xdpc-'));
    try {
      const f = path.join(dir, 'loop.ts');
      writeFileSync(f, ["import { XDP_PASS, type XdpContext } from 'softnet/xdp';", 'export default (ctx: XdpContext) => {', '  let n = 0;', '  while (n < ctx.len) n++;', '  return XDP_PASS;', '};', ''].join('\n'));
      const c = capture();
      expect(await main(['xdp', 'compile', f, '--dump'])).toBe(1);
      expect(c.err()).toMatch(new RegExp(`^${f.replace(/[.\\/]/g, '\\$&')}:4:3: .*while`, 'm'));
      expect(c.err()).toContain('  4 |   while (n < ctx.len) n++;\n    |   ^');
      expect(c.err()).toContain('offload: auto runs this filter in JS');
      expect(c.out()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors: no action, another action, no file (exit 2)', async () => {
    for (const argv of [['xdp'], ['xdp', 'load', 'x.ts'], ['xdp', 'compile']]) {
      const c = capture();
      expect(await main(argv)).toBe(2);
      expect(c.err()).toContain("Try 'softnet xdp --help'");
      vi.restoreAllMocks();
    }
  });

  it('a missing file: its name and the error, exit 1', async () => {
    const c = capture();
    expect(await main(['xdp', 'compile', '/nonexistent/f.ts'])).toBe(1);
    expect(c.err()).toContain('/nonexistent/f.ts: ENOENT');
  });
});

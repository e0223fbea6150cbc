// The npm package as a user gets it: `npm pack` (its prepack builds dist/), installed into a new
// project, then used there with plain node and no tsx anywhere: the library runs a stack on an
// in-memory port, a TypeScript filter with relative .ts imports loads through the public loader,
// tsc checks a user module against the package's types, and the installed `softnet` answers
// --help. No network: dependencies come from npm's cache (--prefer-offline), the addon builds
// against the local Node headers.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'softnet-package-'));
const proj = path.join(tmp, 'project');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: no npm script variables, no loader from this test's node. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_|^NODE_OPTIONS$/i.test(k)) env[k] = v;
  // node-gyp builds offline against the installed headers when they are there (as `npm run build`).
  const prefix = path.dirname(path.dirname(process.execPath));
  if (existsSync(path.join(prefix, 'include/node/node.h'))) env.npm_config_nodedir = prefix;
  env.JOBS = 'max'; // node-gyp's make -j: the addon's six files on every core
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function check(what: string, r: Run): Run {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

// The user's project: a filter in TypeScript importing `softnet/xdp`, a .ts sibling and a .ts
// sibling named the NodeNext way (./names.js), and a script driving the library.
const FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'softnet-user', private: true, type: 'module' }),
  'filters/drop-arp.ts': `
import { XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';
import { ETH_P_ARP } from './ethertypes.ts';
import { verdictName } from './names.js';

interface Rule {
  etherType: number;
  verdict: number;
}
const rule: Rule = { etherType: ETH_P_ARP, verdict: XDP_DROP };
export const describe = (): string => \`0x\${rule.etherType.toString(16)}: \${verdictName(rule.verdict)}\`;

export default function dropArp(ctx: XdpContext): number {
  return ctx.ethType() === rule.etherType ? rule.verdict : XDP_PASS;
}
`,
  'filters/ethertypes.ts': 'export const ETH_P_ARP: number = 0x0806;\n',
  'filters/names.ts': `const NAMES: readonly string[] = ['aborted', 'drop', 'pass', 'tx', 'redirect'];
export function verdictName(v: number): string {
  return NAMES[v] ?? String(v);
}
`,
  'filters/broken.ts': 'export default (ctx: number => 1;\n',
  'app.ts': `import { Stack, type MemoryPort, type StackStats } from 'softnet';
export function drain(s: Stack): StackStats {
  (s.port('p0') as MemoryPort).takeTx();
  return s.stats();
}
`,
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, allowImportingTsExtensions: true, types: ['node'] },
    files: ['app.ts', 'filters/drop-arp.ts'],
  }),
  'run.mjs': `
import { Stack, parseConfig, loadXdpFilter } from 'softnet';
import { XDP_DROP, XdpContext } from 'softnet/xdp';

const PEER = [0x02, 0, 0, 0, 0, 0x99];
// Who has 10.1.0.1? Tell 10.1.0.2.
const arpRequest = new Uint8Array([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...PEER, 0x08, 0x06,
  0, 1, 0x08, 0, 6, 4, 0, 1, ...PEER, 10, 1, 0, 2, 0, 0, 0, 0, 0, 0, 10, 1, 0, 1,
  ...new Array(18).fill(0),
]);
async function until(what, f) {
  const end = Date.now() + 20_000;
  for (;;) {
    const r = f();
    if (r) return r;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((ok) => setTimeout(ok, 5));
  }
}

const s = await Stack.fromConfig(parseConfig('name: pkg\\nports:\\n  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}\\n'), { control: null });
await s.start();
const p0 = s.port('p0');
p0.inject(arpRequest);
const reply = await until('an ARP reply', () => p0.takeTx()[0]);
const filter = await loadXdpFilter('filters/drop-arp.ts');
await s.attachXdp('p0', filter);
p0.inject(arpRequest);
await until('the filter drop', () => s.stats().ports.p0.xdp_drop === 1);
const txAfterDrop = p0.takeTx().length;
const mod = await import('./filters/drop-arp.ts');
const broken = await loadXdpFilter('filters/broken.ts').then(() => 'loaded', (e) => e.message);
const frames = await s.stop();
const ctx = new XdpContext(arpRequest);
ctx.set(0, arpRequest.length, 0);
console.log(JSON.stringify({ arpOp: (reply[20] << 8) | reply[21], verdict: filter(ctx) === XDP_DROP, txAfterDrop, describe: mod.describe(), broken, lost: frames.lost }));
`,
};

let files: string[] = [];

beforeAll(async () => {
  const p = check('npm pack', await run('npm', ['pack', '--json', '--pack-destination', tmp], root, 240_000));
  // prepack's own output (if any) comes first on stdout; the JSON report is last.
  const report = JSON.parse(p.stdout.slice(p.stdout.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = report[0].files.map((f) => f.path);
  for (const [name, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(proj, name)), { recursive: true });
    writeFileSync(path.join(proj, name), text);
  }
  check('npm install', await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, report[0].filename)], proj, 240_000));
}, 480_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the built library, the addon and C benchmark sources and the examples; not the tests, sources or results', () => {
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/xdp.js', 'dist/xdp.d.ts', 'dist/cli/main.js', 'dist/core/ts-hooks.js', 'bin/softnet.js', 'binding.gyp', 'native/addon.cc', 'native/errors.h', 'bench/c/xsk_ref.c', 'examples/r1.yaml', 'filters/blocklist.ts', 'README.md']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|bench\/results|bench\/bin|build|node_modules)\//.test(f) || f.endsWith('.tgz'))).toEqual([]);
  });

  it('installs its runtime dependencies only, and builds the addon', () => {
    const nm = path.join(proj, 'node_modules');
    expect(existsSync(path.join(nm, 'softnet/build/Release/softnet.node'))).toBe(true);
    expect(existsSync(path.join(nm, 'typescript'))).toBe(true);
    for (const dev of ['tsx', 'vitest', 'node-addon-api']) expect(existsSync(path.join(nm, dev)), dev).toBe(false);
  });

  it('runs a stack on an in-memory port and a TypeScript filter with plain node', async () => {
    const r = check('node run.mjs', await run(process.execPath, ['run.mjs'], proj));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.arpOp).toBe(2); // ARP reply
    expect(out.verdict).toBe(true);
    expect(out.txAfterDrop).toBe(0);
    expect(out.describe).toBe('0x806: drop');
    expect(out.broken).toMatch(/cannot load the filter module filters\/broken\.ts: .*broken\.ts:1:\d+: /);
    expect(out.lost).toBe(0);
  });

  it("type-checks a user's modules against the package's types", async () => {
    check('tsc', await run(process.execPath, [path.join(proj, 'node_modules/typescript/bin/tsc'), '-p', '.'], proj));
  });

  it('runs the installed softnet command', async () => {
    const r = check('softnet --help', await run(path.join(proj, 'node_modules/.bin/softnet'), ['--help'], proj));
    expect(r.stdout).toMatch(/^usage: softnet COMMAND/);
    expect(r.stdout).toMatch(/\n {2}drop +receive frames/);
  });

  it('finds the addon it built from dist/ (a missing device is the addon speaking, not a load error)', async () => {
    const r = await run(path.join(proj, 'node_modules/.bin/softnet'), ['drop', '--dev', 'snpkg-nodev0', '--mode', 'xdp-skb', '--duration', '1'], proj);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/if_nametoindex: ENODEV/);
  });
});

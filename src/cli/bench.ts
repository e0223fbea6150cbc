// `softnet bench`: the benchmark suite of src/bench (issue 5). Builds the lab, runs the
// scenarios (softnet and its C/kernel baselines alternating, 3+ reps), tears the lab down, prints
// the table and writes JSON, Markdown and SVG under bench/results/ (./softnet-bench when installed).
import path from 'node:path';
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { isLink, LINKS, type FrameSize } from '../bench/stats.ts';
import { SCENARIOS, makeScenarios, type SuiteEnv } from '../bench/scenarios.ts';
import { Progress } from '../bench/progress.ts';
import { runSuite } from '../bench/runner.ts';
import { writeOutputs } from '../bench/output.ts';
import { markdown } from '../bench/report.ts';
import { defaultResultsDir } from '../bench/package.ts';

const spec = {
  quick: { type: 'bool', help: 'short run (1 rep, 64 B and IMIX, 1 s): under 2 minutes' },
  scenario: { type: 'string', metavar: 'NAME[,NAME]', help: `scenarios to run (default all): ${SCENARIOS.join(', ')}` },
  json: { type: 'string', metavar: 'FILE', help: 'also write the JSON result to FILE' },
  link: { type: 'enum', values: Object.keys(LINKS), default: '10g', help: 'link speed for % of line rate' },
  seconds: { type: 'number', min: 1, max: 600, metavar: 'S', help: 'measuring time per run (default 2, quick 1)' },
  reps: { type: 'int', min: 1, max: 100, metavar: 'N', help: 'repetitions per system and size (default 3, quick 1)' },
  sizes: { type: 'string', metavar: 'LIST', help: 'frame sizes incl. FCS, e.g. 64,512,1518,imix (default all four; quick 64,imix)' },
  lab: { type: 'string', metavar: 'N', default: 'bn', help: "lab name (namespaces sn-N-*, links snN-*); default 'bn'" },
  out: { type: 'string', metavar: 'DIR', help: 'results directory (default bench/results in a checkout, ./softnet-bench otherwise)' },
} as const;

export const usage = `usage: softnet bench [--quick] [--scenario NAME] [--json FILE] [--link 1g|10g|25g|40g|100g] [--seconds S] [--reps N]

Runs the benchmark suite: every scenario with softnet and its baselines in the same run,
alternating, same generator and CPU pinning (printed). Prints live rates on stderr and the
Markdown table on stdout; writes bench-*.json, latest.json, latest.md and *.svg (see --out).

scenarios: ${SCENARIOS.join(', ')}

options:
${describeFlags(spec)}
`;

export function parseSizes(s: string): FrameSize[] {
  return s.split(',').map((x) => {
    const t = x.trim().toLowerCase();
    if (t === 'imix') return 'imix';
    const n = Number(t);
    if (!Number.isInteger(n) || n < 64 || n > 1518) throw new UsageError(`--sizes: '${x}' is not a frame size 64..1518 or imix`);
    return n;
  });
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length) throw new UsageError(`unexpected argument '${a._[0]}'`);
  if (!isLink(a.link)) throw new UsageError(`--link: ${a.link}`);
  const names = a.scenario ? a.scenario.split(',').map((s) => s.trim()).filter(Boolean) : [...SCENARIOS];
  for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new UsageError(`--scenario: unknown scenario '${n}' (known: ${SCENARIOS.join(', ')})`);
  if (!/^[a-z][a-z0-9]{0,5}$/.test(a.lab)) throw new UsageError(`--lab: '${a.lab}' must be 1-6 chars [a-z0-9] starting with a letter`);
  const seconds = a.seconds ?? (a.quick ? 1 : 2);
  const reps = a.reps ?? (a.quick ? 1 : 3);
  const sizes = a.sizes ? parseSizes(a.sizes) : a.quick ? (['64', 'imix'].map((s) => (s === 'imix' ? 'imix' : Number(s))) as FrameSize[]) : ([64, 512, 1518, 'imix'] as FrameSize[]);
  if (process.getuid?.() !== 0) process.stderr.write('softnet bench: not root: lab scenarios will be reported as not run\n');
  const env: SuiteEnv = { lab: a.lab, seconds, quick: a.quick, sizes };
  const { scenarios, skipped } = await makeScenarios(names, env);
  const progress = new Progress(process.stderr);
  progress.start();
  let interrupted = false;
  const onSignal = () => {
    progress.log('softnet bench: interrupted; finishing the current measurement and tearing down the lab');
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let res;
  try {
    res = await runSuite(scenarios, skipped, { quick: a.quick, seconds, reps, link: a.link, command: ['softnet', 'bench', ...argv].join(' '), shouldStop: () => interrupted }, progress);
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const outDir = a.out ? path.resolve(a.out) : defaultResultsDir();
  const w = writeOutputs(res, outDir, a.json ? path.resolve(a.json) : undefined);
  process.stdout.write(markdown(res, []) + '\n');
  process.stderr.write(`softnet bench: wrote ${w.json}, ${w.markdown}${w.svgs.length ? ', ' + w.svgs.join(', ') : ''} (${res.durationSeconds} s)\n`);
  return interrupted ? 130 : 0;
}

/**
 * `npm run fuzz -- [--frames N] [--seed S] [--time SEC] [--out FILE]`: the fuzz harness of
 * test/support/fuzz.ts over the full stage graph, as long as asked. Prints frames/s as it goes
 * and a summary; on a violation it writes the failing batch's frames (JSON) for a regression
 * test and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { runFuzz } from '../test/support/fuzz.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  if (v === undefined) throw new Error(`fuzz: --${name} needs a value`);
  return v;
}

const frames = Number(arg('frames', '5000000'));
const seed = Number(arg('seed', String((Date.now() % 0xffffffff) >>> 0)));
const time = Number(arg('time', '0'));
const outFile = arg('out', `fuzz-crash-${seed}.json`);
if (!Number.isInteger(frames) || frames < 1) throw new Error(`fuzz: --frames ${frames} must be a positive integer`);
if (!Number.isInteger(seed)) throw new Error(`fuzz: --seed must be an integer`);

console.log(`fuzz: ${frames} frames, seed ${seed}${time > 0 ? `, at most ${time} s` : ''}`);
const r = await runFuzz({ frames, seed, timeLimitMs: time > 0 ? time * 1000 : undefined, progressMs: 5000, log: (l) => console.log(l) });
console.log(
  `fuzz: ${r.frames} frames (${r.edgeFrames} at the UMEM's end) in ${r.seconds.toFixed(1)} s = ${(r.framesPerSec / 1e6).toFixed(3)} M frames/s; ` +
    `transmitted ${r.transmitted}, generated ${r.generated}, consumed ${r.consumed}, held ${r.held}, silent ${r.silentFrees}, ` +
    `stage exceptions ${r.napiErrors}, xdp filter exceptions ${r.xdpExceptions}`,
);
console.log(`drops: ${JSON.stringify(r.drops)}`);
if (r.violations.length > 0) {
  for (const v of r.violations) console.error(`VIOLATION ${v.kind} at batch ${v.batch}: ${v.message}`);
  writeFileSync(outFile, JSON.stringify({ seed, violations: r.violations }, null, 1));
  console.error(`fuzz: failing batches written to ${outFile} (replay with replayFrames in test/support/fuzz.ts)`);
  process.exit(1);
}
console.log('fuzz: no violation');

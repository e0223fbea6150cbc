// What lab-rxdrop.ts runs on: one run of a receiver against the generator, counted from their
// end-of-run JSON lines; the repetitions, systems rotated; the result file. (The suite measures differently: per-second rates in a window, src/bench/labrun.ts.)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultResultsDir, packageRoot } from '../src/bench/package.ts';
import { Proc, sleep } from '../src/bench/proc.ts';
import { errText, rotation } from '../src/bench/runner.ts';

export interface RunSpec {
  label: string;
  rx: { ns: string | null; cpu: number; argv: string[]; ready: RegExp; readyMs: number; stopMs: number };
  gen: { ns: string; cpu: number; argv: string[]; timeoutMs: number };
  /** Once the receiver is ready and the device settled, before the generator starts. */
  beforeGen?: () => Promise<void>;
}

type Json = Record<string, unknown>;

/**
 * Start the receiver, wait until it says it is ready and let the device settle, run the generator
 * to its end, let the receiver drain, stop it: the two end-of-run JSON lines, or why there are none.
 */
export async function receiveRun(s: RunSpec): Promise<{ gen: Json; rx: Json } | { failed: string }> {
  const rx = new Proc(s.label, s.rx.ns, s.rx.cpu, s.rx.argv);
  try {
    await rx.waitFor(s.rx.ready, s.rx.readyMs);
  } catch (e) {
    await rx.stop();
    return { failed: errText(e) };
  }
  await sleep(300); // XDP program attached, socket bound: let the device settle
  if (!rx.running()) return { failed: `receiver exited${rx.tail()}` };
  await s.beforeGen?.();
  const gen = new Proc('generator', s.gen.ns, s.gen.cpu, s.gen.argv);
  await gen.wait(s.gen.timeoutMs);
  await sleep(300); // the receiver drains what is queued
  await rx.stop(s.rx.stopMs);
  const gj = gen.lastJson();
  const rj = rx.lastJson();
  if (!gj) return { failed: `generator failed${gen.tail()}` };
  if (!rj) return { failed: `receiver failed${rx.tail()}` };
  return { gen: gj, rx: rj };
}

/**
 * `reps` rounds of every system, the order rotated so none always runs first (on a warmer, or
 * busier, machine); each sample printed as `show` says, or as FAILED with the reason.
 */
export async function runReps<Sys extends string, S extends { failed?: string }>(
  systems: readonly Sys[],
  reps: number,
  once: (sys: Sys, rep: number) => Promise<S>,
  show: (s: S) => string,
): Promise<S[]> {
  const pad = Math.max(...systems.map((s) => s.length));
  const samples: S[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const sys of rotation(systems, rep)) {
      const s = await once(sys, rep);
      samples.push(s);
      console.log(`  rep ${rep + 1} ${sys.padEnd(pad)} ${s.failed ? `FAILED: ${s.failed}` : show(s)}`);
    }
  }
  return samples;
}

/** Write a result as bench/results/<bench>-<date>.json and say where. */
export function writeResult(result: { bench: string; date: string }): void {
  const dir = defaultResultsDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.bench}-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(packageRoot(), file)}`);
}

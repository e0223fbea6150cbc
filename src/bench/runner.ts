/**
 * The suite's engine: for each scenario, frame size and repetition, run every system once,
 * alternating (the start rotates each repetition so no system always runs first), then reduce the
 * samples to min/median/max, ratios and line-rate percentages. Every failure becomes a reason in
 * the result, never a number.
 */
import {
  generatorLimited,
  lineRatePct,
  lossFraction,
  percentile,
  ratioOfMedians,
  round,
  roundSummary,
  summarize,
  type FrameSize,
  type Link,
  type Summary,
} from './stats.ts';
import type {
  BenchResult,
  BenchSystem,
  RunContext,
  Sample,
  Scenario,
  ScenarioEntry,
  ScenarioSkip,
  ScenarioTable,
  SystemResult,
} from './types.ts';
import { machineInfo } from './machine.ts';
import type { Progress } from './progress.ts';

export interface RunOptions {
  quick: boolean;
  seconds: number;
  reps: number;
  link: Link;
  command: string;
  /** Polled between measurements: true stops the run (the scenario is still torn down). */
  shouldStop?: () => boolean;
}

/** Loss above this share, where a scenario expects none, makes the result a fault. */
export const LOSS_TOLERANCE = 0.001;

/** A system's outcome for one frame size: its samples, or why it has none. */
export type Outcome = { samples: Sample[]; failed?: string; notRun?: string };

/** Reduces one system's repetitions to a SystemResult (pure; tested). */
export function reduceSystem(outcome: Outcome, scenario: Pick<Scenario, 'kind' | 'expectLoss' | 'metric'>, size: FrameSize, link: Link): SystemResult {
  if (outcome.notRun) return { status: 'not-run', reason: `not run: ${outcome.notRun}` };
  if (outcome.failed) return { status: 'not-run', reason: `not run: ${outcome.failed}` };
  const s = outcome.samples;
  if (s.length === 0) return { status: 'not-run', reason: 'not run: no repetitions' };
  const det = details(s);
  if (scenario.kind === 'latency') {
    const all: number[] = [];
    for (const x of s) if (x.rttUs) for (const v of x.rttUs) all.push(v);
    if (all.length === 0) return { status: 'not-run', reason: 'not run: no RTT samples' };
    const p99s = s.filter((x) => x.rttUs && x.rttUs.length).map((x) => percentile(x.rttUs!, 99));
    const r: SystemResult = {
      status: 'ok',
      ...roundSummary(summarize(p99s), 4),
      reps: p99s.map((v) => round(v, 1)),
      p50: round(percentile(all, 50), 1),
      p99: round(percentile(all, 99), 1),
      p999: round(percentile(all, 99.9), 1),
      samples: all.length,
      ...det,
    };
    const lossy = lossIn(s);
    if (!scenario.expectLoss && lossy) return { ...r, status: 'loss', reason: `loss: ${lossy}` };
    return r;
  }
  const mpps = s.map((x) => x.mpps);
  const r: SystemResult = {
    status: 'ok',
    ...roundSummary(summarize(mpps), 4),
    reps: mpps.map((v) => round(v, 4)),
    ...det,
  };
  const gens = s.filter((x) => x.genMpps !== undefined).map((x) => x.genMpps!);
  if (gens.length) r.genMpps = roundSummary(summarize(gens), 4);
  if (!scenario.metric) r.lineRatePct = round(lineRatePct(r.median!, size, link), 2);
  const why = s.find((x) => x.limited)?.limited;
  if (why) {
    const k = s.filter((x) => x.limited).length;
    return { ...r, status: 'generator-limited', reason: `generator-limited: ${why} (${k} of ${s.length} reps); the receiver's capacity is higher than measured` };
  }
  const limited = s.filter((x) => x.genMpps !== undefined && generatorLimited(x.mpps, x.genMpps)).length;
  if (limited > 0) {
    return {
      ...r,
      status: 'generator-limited',
      reason: `generator-limited: received all the generator sent in ${limited} of ${s.length} reps (generator ${r.genMpps!.median} Mpps median); the receiver's capacity is higher than measured`,
    };
  }
  if (!scenario.expectLoss) {
    const lossy = lossIn(s);
    if (lossy) return { ...r, status: 'loss', reason: `loss: ${lossy}` };
  }
  return r;
}

function details(s: Sample[]): { details?: Record<string, unknown>[] } {
  const d = s.map((x) => {
    const o: Record<string, unknown> = { ...(x.extra ?? {}) };
    for (const k of Object.keys(o)) if (o[k] === null || o[k] === undefined) delete o[k];
    if (x.sent !== undefined) o.sent = x.sent;
    if (x.received !== undefined) o.received = x.received;
    return o;
  });
  return d.some((o) => Object.keys(o).length) ? { details: d } : {};
}

function lossIn(s: Sample[]): string | null {
  for (let i = 0; i < s.length; i++) {
    const x = s[i];
    if (x.sent === undefined || x.received === undefined) continue;
    const f = lossFraction(x.sent, x.received);
    if (f > LOSS_TOLERANCE) return `rep ${i + 1} lost ${x.sent - x.received} of ${x.sent} (${round(f * 100, 2)}%) where none is expected`;
  }
  return null;
}

/** Builds a scenario entry from its systems' outcomes (pure; tested). */
export function buildEntry(
  scenario: Pick<Scenario, 'name' | 'kind' | 'expectLoss' | 'subject' | 'metric' | 'caseLabel'>,
  size: FrameSize,
  outcomes: Record<string, Outcome>,
  link: Link,
): ScenarioEntry {
  const systems: Record<string, SystemResult> = {};
  for (const [name, o] of Object.entries(outcomes)) systems[name] = reduceSystem(o, scenario, size, link);
  const subj = systems[scenario.subject];
  const ratios: Record<string, number | null> = {};
  const ratioNotes: Record<string, string> = {};
  const latency = scenario.kind === 'latency';
  for (const [name, r] of Object.entries(systems)) {
    if (name === scenario.subject) continue;
    if (!subj || subj.status !== 'ok') {
      ratios[name] = null;
      ratioNotes[name] = `${scenario.subject}: ${subj?.reason ?? 'missing'}`;
    } else if (r.status !== 'ok') {
      ratios[name] = null;
      ratioNotes[name] = `${name}: ${r.reason}`;
    } else if (latency) {
      ratios[name] = r.p99! > 0 ? round(subj.p99! / r.p99!, 3) : null;
    } else {
      const q = ratioOfMedians(subj as Summary, r as Summary);
      ratios[name] = q === null ? null : round(q, 3);
      if (q === null) ratioNotes[name] = `${name}: median is 0`;
    }
  }
  const entry: ScenarioEntry = {
    name: scenario.name,
    frameSize: size,
    metric: latency ? 'rtt-us' : (scenario.metric ?? 'mpps'),
    ...(scenario.caseLabel ? { case: scenario.caseLabel } : {}),
    systems,
    ratios,
    lineRatePct: !latency && subj && subj.status === 'ok' ? (subj.lineRatePct ?? null) : null,
  };
  if (Object.keys(ratioNotes).length) entry.ratioNotes = ratioNotes;
  return entry;
}

/** Order of systems in repetition `rep` (rotated so none always runs first). */
export function rotation<T>(items: readonly T[], rep: number): T[] {
  if (items.length === 0) return [];
  const k = rep % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Runs the scenarios and returns the result; `progress` gets every step. */
export async function runSuite(scenarios: Scenario[], skipped: ScenarioSkip[], opts: RunOptions, progress: Progress): Promise<BenchResult> {
  const started = new Date();
  const log: string[] = [];
  const say = (m: string) => {
    log.push(m);
    progress.log(m);
  };
  const notRun: ScenarioSkip[] = [...skipped];
  const entries: ScenarioEntry[] = [];
  const tables: ScenarioTable[] = [];
  const placement: Record<string, string[]> = {};

  // Which scenarios can run at all, and which of their systems.
  type Plan = { sc: Scenario; systems: BenchSystem[]; sysSkip: Record<string, string> };
  const plans: Plan[] = [];
  for (const sc of scenarios) {
    const why = sc.check ? await safeCheck(() => sc.check!()) : null;
    if (why) {
      notRun.push({ name: sc.name, reason: why });
      say(`${sc.name}: not run: ${why}`);
      continue;
    }
    const sysSkip: Record<string, string> = {};
    const systems: BenchSystem[] = [];
    for (const sy of sc.systems) {
      const w = sy.check ? await safeCheck(() => sy.check!()) : null;
      if (w) {
        sysSkip[sy.name] = w;
        say(`${sc.name}/${sy.name}: not run: ${w}`);
      } else systems.push(sy);
    }
    plans.push({ sc, systems, sysSkip });
  }
  progress.setTotal(plans.reduce((a, p) => a + p.systems.length * p.sc.frameSizes.length * opts.reps, 0));

  for (const { sc, systems, sysSkip } of plans) {
    placement[sc.name] = sc.placement;
    say(`== ${sc.title}`);
    for (const line of sc.placement) say(`   cpu: ${line}`);
    let setupFailed: string | null = null;
    try {
      await sc.setup?.(say);
    } catch (e) {
      setupFailed = `setup failed: ${errText(e)}`;
      say(`${sc.name}: ${setupFailed}`);
    }
    try {
      for (const size of sc.frameSizes) {
        const outcomes: Record<string, Outcome> = {};
        for (const sy of sc.systems) outcomes[sy.name] = { samples: [] };
        for (const [n, w] of Object.entries(sysSkip)) outcomes[n].notRun = w;
        for (let rep = 0; rep < opts.reps; rep++) {
          for (const sy of rotation(systems, rep)) {
            const o = outcomes[sy.name];
            const label = `${sc.name} ${size === 'imix' ? 'IMIX' : size + ' B'} ${sy.name} rep ${rep + 1}/${opts.reps}`;
            progress.begin(label, opts.seconds);
            if (setupFailed) o.notRun = setupFailed;
            if (opts.shouldStop?.()) o.notRun = 'interrupted';
            if (o.failed || o.notRun) {
              progress.end(label, 'skipped');
              continue;
            }
            const ctx: RunContext = {
              seconds: opts.seconds,
              link: opts.link,
              quick: opts.quick,
              rate: (pps, note) => progress.rate(pps, note),
              log: say,
            };
            try {
              const sample = await sy.run(ctx, size);
              o.samples.push(sample);
              const extra = sample.rttUs ? `${sample.rttUs.length} RTTs` : `${round(sample.mpps, 3)} ${sc.metric ?? 'Mpps'}`;
              progress.end(label, extra);
            } catch (e) {
              o.failed = `rep ${rep + 1} failed: ${errText(e)}`;
              say(`${label}: ${o.failed}`);
              progress.end(label, 'failed');
            }
          }
        }
        const entry = buildEntry(sc, size, outcomes, opts.link);
        // keep the stage table of the subject's median repetition
        const subj = outcomes[sc.subject];
        if (subj && subj.samples.length) {
          const sorted = [...subj.samples].sort((a, b) => a.mpps - b.mpps);
          const mid = sorted[sorted.length >> 1];
          if (mid.stages?.length) entry.stages = mid.stages;
        }
        entries.push(entry);
      }
      if (sc.tables && !setupFailed && !opts.shouldStop?.()) {
        try {
          tables.push(...(await sc.tables({ seconds: opts.seconds, link: opts.link, quick: opts.quick, rate: (pps, note) => progress.rate(pps, note), log: say })));
        } catch (e) {
          say(`${sc.name}: tables failed: ${errText(e)}`);
        }
      }
    } finally {
      try {
        await sc.teardown?.(say);
      } catch (e) {
        say(`${sc.name}: teardown failed: ${errText(e)}`);
      }
    }
  }
  const finished = new Date();
  return {
    schema: 'softnet-bench/1',
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: round((finished.getTime() - started.getTime()) / 1000, 1),
    command: opts.command,
    options: { quick: opts.quick, seconds: opts.seconds, reps: opts.reps, link: opts.link, scenarios: scenarios.map((s) => s.name).concat(skipped.map((s) => s.name)) },
    machine: machineInfo(),
    placement,
    scenarios: entries,
    ...(tables.length ? { tables } : {}),
    notRun,
    log,
  };
}

async function safeCheck(f: () => Promise<string | null>): Promise<string | null> {
  try {
    return await f();
  } catch (e) {
    return `check failed: ${errText(e)}`;
  }
}

export function errText(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n').slice(0, 3).join(' | ');
  return String(e);
}

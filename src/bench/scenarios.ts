/** The scenario registry: names in run order, and how each is built for a run. */
import type { FrameSize } from './stats.ts';
import type { Scenario, ScenarioSkip } from './types.ts';

export const SCENARIOS = ['rxdrop', 'modes', 'filter', 'router', 'nat', 'latency', 'udp', 'tcp', 'offload', 'trace'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What every scenario gets: the lab name, timing and frame sizes. */
export interface SuiteEnv {
  lab: string;
  seconds: number;
  quick: boolean;
  sizes: FrameSize[];
}

type Maker = (env: SuiteEnv) => Scenario | Scenario[] | Promise<Scenario | Scenario[]>;

const makers: Record<ScenarioName, () => Promise<Maker>> = {
  rxdrop: async () => (await import('./rxdrop.ts')).rxdrop,
  modes: async () => (await import('./modes.ts')).modes,
  filter: async () => (await import('./filter.ts')).filter,
  router: async () => (await import('./router.ts')).router,
  nat: async () => (await import('./nat.ts')).nat,
  latency: async () => (await import('./latency.ts')).latency,
  udp: async () => (await import('./udp.ts')).udp,
  tcp: async () => (await import('./tcp.ts')).tcp,
  offload: async () => (await import('./offload.ts')).offload,
  trace: async () => (await import('./trace.ts')).trace,
};

/** Builds the named scenarios; one whose module fails to load is reported, not fatal. */
export async function makeScenarios(names: readonly string[], env: SuiteEnv): Promise<{ scenarios: Scenario[]; skipped: ScenarioSkip[] }> {
  const scenarios: Scenario[] = [];
  const skipped: ScenarioSkip[] = [];
  for (const n of names) {
    const load = makers[n as ScenarioName];
    if (!load) {
      skipped.push({ name: n, reason: 'unknown scenario' });
      continue;
    }
    try {
      scenarios.push(...[await (await load())(env)].flat());
    } catch (e) {
      skipped.push({ name: n, reason: `failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` });
    }
  }
  return { scenarios, skipped };
}

/**
 * trace: what `softnet trace` costs on the router path (issue 14). The router scenario's softnet
 * (10k routes, 20 FORWARD rules, A -> B, the same XDP sink on host B) three times in one run:
 *   softnet:        no trace (Graph.tracer null: one test per dispatch),
 *   trace-nomatch:  a trace whose filter matches nothing (the filter runs on every packet),
 *   trace-1pct:     a trace whose filter matches 1 packet in 100 (each runs through the graph alone
 *                   and is recorded).
 * The generator cycles through FLOWS flows (xsk_fwd gen -F: UDP source ports 1024..1123, one frame
 * each in turn), the same for all three, so `udp src port 1024` matches exactly 1 in FLOWS and
 * `udp src port 1023` (the same filter shape, one port outside the range) matches none. The trace
 * is turned on as a user does: the control socket's `trace` request, as `softnet trace` sends it;
 * the records streamed back are counted and discarded.
 */
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { PLACEMENT_AFXDP } from './labrun.ts';
import { ROUTES, routerBits, RULES, softnetRouter } from './router.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { Scenario } from './types.ts';

/** Flows per run: `udp src port 1024` is one of them, 1%. */
export const FLOWS = 100;
export const FILTER_NONE = 'udp src port 1023';
export const FILTER_1PCT = 'udp src port 1024';

/**
 * Starts `trace FILTER` on the stack's control socket; the returned stop() ends it (as Ctrl-C
 * ends `softnet trace`) and says how many records came back and how many matches the stack's
 * bounded trace queue could not take.
 */
export async function startTrace(stackName: string, filter: string): Promise<() => Promise<Record<string, unknown>>> {
  const path = controlPath({ name: stackName });
  const ac = new AbortController();
  let records = 0;
  const st: { failed: Error | null } = { failed: null };
  const req = controlRequest(path, 'trace', { filter }, { timeoutMs: 0, signal: ac.signal, onEvent: (e) => void (records += (e as { records?: unknown[] }).records?.length ?? 0) }).catch(
    (e: Error) => {
      st.failed = e;
      return null;
    },
  );
  // A round trip on a second connection: the trace request, written first, has been taken by then.
  await controlRequest(path, 'stat', {});
  if (st.failed) throw st.failed;
  return async () => {
    ac.abort();
    const r = (await req) as { traced?: number; missed?: number } | null;
    if (st.failed) throw st.failed;
    return { trace: { filter, records, traced: r?.traced ?? null, missed: r?.missed ?? null } };
  };
}

export function trace(env: SuiteEnv): Scenario {
  const bits = routerBits(env);
  const n = `sn${env.lab}`;
  const sys = (name: string, filter: string | null) =>
    softnetRouter(env, bits, name, { stackName: `${env.lab}tr`, flows: FLOWS, attach: filter === null ? undefined : (s) => startTrace(s, filter) });
  return {
    name: 'trace',
    title: `trace: softnet router (${ROUTES} routes, ${RULES} rules, ${FLOWS} UDP flows) with softnet trace off / on matching nothing / on matching 1%, A -> B`,
    kind: 'throughput',
    subject: 'softnet',
    systems: [sys('softnet', null), sys('trace-nomatch', FILTER_NONE), sys('trace-1pct', FILTER_1PCT)],
    // The question is the per-packet cost: 64 B is where it shows; quick runs only that.
    frameSizes: env.quick ? [64] : env.sizes,
    expectLoss: true,
    placement: [
      PLACEMENT_AFXDP.replace(/snN/g, n).replace('receiver', 'router'),
      `sink on host B: XDP drop+count on ${n}-b1 (runs in the router's transmit path)`,
      `all three: the router scenario's softnet (10k routes, 20 FORWARD rules), generator flows: ${FLOWS} (UDP source ports 1024..${1023 + FLOWS})`,
      `trace-nomatch: '${FILTER_NONE}', trace-1pct: '${FILTER_1PCT}', started over the control socket (softnet trace's request), records read and discarded; ratios are softnet (off) / each`,
    ],
    check: () => bits.check(),
    setup: async (log) => void (await bits.lab.up(log)),
    teardown: (log) => bits.lab.down(log),
  };
}

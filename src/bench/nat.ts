/**
 * nat: softnet as a NAT gateway (MASQUERADE on B's port, so connection tracking on) vs Linux with
 * the same iptables rules in ns sn-N-r, both with the router scenario's 10k routes and 20 FORWARD
 * rules, A -> B. The generator cycles through FLOWS distinct UDP flows (xsk_fwd gen -F: source
 * ports 1024.., fixed addresses), so each conntrack table holds FLOWS entries and every packet is
 * a lookup among them; B never answers, so the entries stay unreplied (UDP 30 s, refreshed by
 * every pass) as for a one-way flood. Counted by the same XDP sink on host B as the router.
 */
import { PLACEMENT_AFXDP, PLACEMENT_KERNEL } from './labrun.ts';
import { linuxFwd, ROUTES, routerBits, RULES, softnetRouter } from './router.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { Scenario } from './types.ts';

/** Distinct flows per run: thousands of entries, well under either table's default bound. */
export const FLOWS = 10_000;

export function nat(env: SuiteEnv): Scenario {
  const bits = routerBits(env);
  const n = `sn${env.lab}`;
  const masq = (dev: string) => `-A POSTROUTING -o ${dev} -j MASQUERADE`;
  return {
    name: 'nat',
    title: `nat: softnet MASQUERADE + conntrack vs Linux with the same iptables rules (${ROUTES} routes, ${RULES} FORWARD rules, ${FLOWS} UDP flows), A -> B`,
    kind: 'throughput',
    subject: 'softnet',
    systems: [
      softnetRouter(env, bits, 'softnet', { stackName: `${env.lab}nat`, netfilter: [`-t nat ${masq('p1')}`], flows: FLOWS }),
      linuxFwd(bits, { name: 'linux-nat', nat: [masq(`${n}-b0`)], flows: FLOWS }),
    ],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [
      PLACEMENT_AFXDP.replace(/snN/g, n).replace('receiver', 'router'),
      PLACEMENT_KERNEL.replace(/snN/g, n),
      `sink on host B: XDP drop+count on ${n}-b1 (runs in the router's transmit path)`,
      `both: the router scenario's 10k routes and 20 FORWARD rules, iptables -t nat ${masq('<B port>')} (conntrack on), generator flows: ${FLOWS} (UDP source ports 1024..)`,
      "linux-nat: each run starts with the entries an earlier run of it left (there is no conntrack tool to flush them; UDP's 30 s timeout); softnet starts empty, its table fills within the warm-up",
    ],
    check: () => bits.check(),
    setup: async (log) => void (await bits.lab.up(log)),
    teardown: (log) => bits.lab.down(log),
  };
}

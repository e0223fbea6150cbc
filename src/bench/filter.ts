/**
 * filter: the softnet router with an XDP-style TypeScript filter of 10 rules (filter10.ts) on
 * both ports vs the same router with no filter: what a per-packet TS filter costs. Same lab,
 * generator, sink and placement as the router scenario.
 */
import path from 'node:path';
import { PLACEMENT_AFXDP } from './labrun.ts';
import { packageRoot, sibling } from './package.ts';
import { ROUTES, RULES, routerBits, softnetRouter } from './router.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { Scenario } from './types.ts';

export function filter(env: SuiteEnv): Scenario {
  const bits = routerBits(env);
  // filter10.ts in a checkout, filter10.js in the built package
  const module = sibling(import.meta.url, 'filter10');
  return {
    name: 'filter',
    title: 'filter: softnet router with a 10-rule XDP-style TS filter vs no filter',
    kind: 'throughput',
    subject: 'softnet',
    systems: [
      softnetRouter(env, bits, 'softnet', { stackName: `${env.lab}fl`, xdp: module }),
      softnetRouter(env, bits, 'softnet-nofilter', { stackName: `${env.lab}nf` }),
    ],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [PLACEMENT_AFXDP.replace(/snN/g, `sn${env.lab}`).replace('receiver', 'router'), `both: ${ROUTES} routes, ${RULES} FORWARD rules; filter: ${path.relative(packageRoot(), module)} on p0 and p1`],
    check: () => bits.check(),
    setup: async (log) => void (await bits.lab.up(log)),
    teardown: (log) => bits.lab.down(log),
  };
}

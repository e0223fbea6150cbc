/**
 * modes: the same softnet rxdrop with the port in xdp-drv (native attach, copy), xdp-skb
 * (generic attach) and tap. In tap mode softnet creates the TAP snN-at in sn-N-r and the
 * generator sends into it with XDP_TX live frames on the TAP itself (tun's ndo_xdp_xmit queues
 * them for the reader), so the same generator drives all three.
 */
import { labPrereqsWith, PLACEMENT_AFXDP, SuiteLab } from './labrun.ts';
import { softnetDrop } from './rxdrop.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { Scenario } from './types.ts';

export function modes(env: SuiteEnv): Scenario {
  const lab = new SuiteLab(env.lab);
  let xskFwd = '';
  const gen = () => xskFwd;
  return {
    name: 'modes',
    title: 'modes: softnet drop in xdp-drv, xdp-skb and tap',
    kind: 'throughput',
    subject: 'softnet',
    systems: [
      softnetDrop(env, lab, gen, 'softnet', 'xdp-drv'),
      softnetDrop(env, lab, gen, 'softnet-xdp-skb', 'xdp-skb'),
      softnetDrop(env, lab, gen, 'softnet-tap', 'tap'),
    ],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [PLACEMENT_AFXDP.replace(/snN/g, `sn${env.lab}`), 'tap: generator on CPU 0 sends into the TAP (XDP live frames), softnet reads it on CPU 1'],
    async check() {
      return labPrereqsWith('xsk_fwd', (b) => (xskFwd = b));
    },
    setup: async (log) => void (await lab.up(log)),
    teardown: (log) => lab.down(log),
  };
}

import type { Graph } from '../core/graph.ts';
import type { NetDevices } from '../core/netdev.ts';
import type { PtypeTable } from '../core/ptype.ts';
import { ETH_P_ARP } from '../wire/ethernet.ts';
import { ArpRcv } from './arp-rcv.ts';
import { NeighOutput } from './neigh-output.ts';
import { NeighTable, type NeighOptions } from './neighbour.ts';

export { ArpRcv } from './arp-rcv.ts';
export { NeighOutput } from './neigh-output.ts';
export { NeighTable } from './neighbour.ts';
export type { NeighEntry, NeighOptions, ResolutionFailedHook } from './neighbour.ts';
export { Originate } from './originate.ts';

export interface L2 {
  neigh: NeighTable;
  arp: ArpRcv;
  output: NeighOutput;
}

/**
 * Add `arp-rcv` and `neigh-output` to the graph and register ARP (0x0806) with ptype, the way
 * arp_init calls dev_add_pack. The graph must also have a `dev-xmit` stage before it is sealed.
 * The caller runs neigh.tick() periodically (or neigh.startTimer()) so that requests are
 * retransmitted and entries age, and calls neigh.clear() at shutdown to return held frames.
 */
export function registerL2(g: Graph, devs: NetDevices, ptype: PtypeTable | null, opts: NeighOptions = {}): L2 {
  const neigh = new NeighTable(devs, opts);
  const arp = new ArpRcv(neigh);
  const output = new NeighOutput(neigh);
  g.add(arp);
  g.add(output);
  ptype?.add(ETH_P_ARP, arp.name);
  return { neigh, arp, output };
}

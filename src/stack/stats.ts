/**
 * The stack's counters in one snapshot (`softnet stat`): softnet_stat per queue, ethtool -S per
 * port, drop reasons, the MIBs netstat -s shows, and the frame account. Control plane only.
 */
import type { Counters } from '../core/counters.ts';
import type { DevXmit } from '../core/dev-xmit.ts';
import type { Graph } from '../core/graph.ts';
import type { Napi } from '../core/napi.ts';
import type { NetDevices } from '../core/netdev.ts';
import type { XdpHook, XdpVerdicts } from '../core/xdp.ts';
import { OPER_NAMES } from '../driver/link.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import { NAT_STAT_NAMES } from '../ipv4/nat/nat.ts';
import type { L2 } from '../l2/index.ts';
import type { Transport } from '../transport/index.ts';
import type { LinkWatch } from './link.ts';
import type { FrameAccount, StackStats } from './types.ts';

/** The parts of a stack the snapshot reads (Stack has them all). */
export interface StatsSource {
  readonly name: string;
  readonly devs: NetDevices;
  readonly xdp: XdpHook;
  /** Per device: a compiled filter in the kernel (its per-CPU verdict counters). */
  readonly xdpKernel?: ReadonlyArray<{ verdicts(): XdpVerdicts } | undefined>;
  readonly xmit: DevXmit;
  readonly napi: Napi;
  readonly graph: Graph;
  readonly ipv4: Ipv4;
  readonly l2: L2;
  readonly transport: Transport;
  readonly counters: Counters;
  frames(): FrameAccount;
}

export function stackStats(s: StatsSource, link: LinkWatch | null, uptimeSec: number): StackStats {
  const ports: Record<string, Record<string, number | string>> = {};
  const cp = s.ipv4.ipRcv.csumPartial;
  for (const d of s.devs.list) {
    const row: Record<string, number | string> = {};
    row.state = OPER_NAMES[d.operstate] ?? 'UNKNOWN';
    if (d.vlanId === 0) {
      row.dev = d.port.dev;
      row.queue = d.port.queue;
      row.mode = d.port.mode;
      if (link !== null) {
        row.carrier_up_count = link.upCount[d.index];
        row.carrier_down_count = link.downCount[d.index];
      }
      Object.assign(row, d.port.stats());
      const k = s.xdpKernel?.[d.index];
      const v = k !== undefined ? k.verdicts() : s.xdp.stats(d.index);
      if (k !== undefined) row.xdp_offload = 'kernel';
      if (k !== undefined || s.xdp.enabled[d.index] || v.pass + v.drop + v.tx + v.redirect + v.aborted > 0) {
        row.xdp_pass = v.pass;
        row.xdp_drop = v.drop;
        row.xdp_tx = v.tx;
        row.xdp_redirect = v.redirect;
        row.xdp_aborted = v.aborted;
      }
    } else {
      row.parent = s.devs.list[d.parent].name;
      row.vlan = d.vlanId;
    }
    if (cp.on[d.index] !== 0 || cp.completed[d.index] > 0) row.csum_partial_completed = cp.completed[d.index];
    row.stack_tx_packets = s.xmit.txPackets[d.index];
    row.stack_tx_bytes = s.xmit.txBytes[d.index];
    ports[d.name] = row;
  }
  return {
    name: s.name,
    uptimeSec,
    softnet: s.napi.stat().map((q) => ({ queue: `${q.dev}/${q.queue}`, processed: q.processed, dropped: q.dropped, time_squeeze: q.time_squeeze })),
    // The poll loop's own counts: frames per round and per event-loop turn are its batching.
    napi: { turns: s.napi.turns, rounds: s.napi.rounds, frames: s.napi.work, squeezed_rounds: s.napi.squeezedRounds, refill_retries: s.napi.refillRetries, recheck_frames: s.napi.rechecked, irq_arms: s.napi.arms, irq_defers: s.napi.defers },
    ports,
    drops: s.graph.drops.toJSON(),
    mib: { ...s.ipv4.mib.toJSON(), ...s.transport.mib(), ...natMib(s.ipv4), Neigh: s.l2.neigh.stats.toJSON(), Softnet: s.counters.toJSON() },
    frames: s.frames(),
  };
}

/** The NAT core's counters as a MIB group (`Nat: no_tuple, ...`), once the nat table made it. */
function natMib(ipv4: Ipv4): Record<string, Record<string, number>> {
  const nat = ipv4.nat;
  if (nat === null) return {};
  return { Nat: Object.fromEntries(NAT_STAT_NAMES.map((n, k) => [n.slice('nat.'.length), nat.stats[k]])) };
}

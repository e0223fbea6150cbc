import type { NetDevice, NetDevices } from '../core/netdev.ts';
import { ARP_FRAME_LEN, ARPOP_REQUEST, buildArp } from '../wire/arp.ts';
import { NEIGH, NUD_PROBE, type NeighEntries } from './neigh-table.ts';

/**
 * arp_solicit: an ARP request for entry e. INCOMPLETE: broadcast; PROBE: unicast to the known
 * MAC (ucast_probes). Counts a probe and arms the retransmit timer (retrans_time) even when no
 * frame is free (solicit_nomem): the next timer run retries.
 */
export function solicit(t: NeighEntries, e: number, now: number): void {
  t.probes[e]++;
  t.timer[e] = now + t.parms.retransMs;
  const g = t.graph();
  const dev = t.dev[e];
  const d = t.devs.list[dev];
  if (d === undefined || t.out === null) return;
  const addr = g.pool.alloc();
  if (addr < 0) {
    t.stats.v[NEIGH.solicit_nomem]++;
    return;
  }
  const unicast = t.state[e] === NUD_PROBE;
  if (dev >= t.known) t.refreshDevs();
  buildArp(
    g.pool.umem.dv,
    addr,
    ARPOP_REQUEST,
    unicast ? t.hi[e] : 0xffffffff,
    unicast ? t.lo[e] : 0xffff,
    t.devHi[dev],
    t.devLo[dev],
    sourceFor(d, t.ip[e]),
    0,
    0,
    t.ip[e],
  );
  t.stats.v[unicast ? NEIGH.ucast_probes : NEIGH.solicits]++;
  t.out.push(addr, ARP_FRAME_LEN, dev);
}

/**
 * arp_constructor's choice for a new next hop: 0 for the broadcast MAC (255.255.255.255 or a
 * directed broadcast of one of dev's subnets), 1 for a multicast MAC (224/4), -1 when ip needs ARP.
 */
export function noarpMac(devs: NetDevices, dev: number, ip: number): number {
  if (ip === 0xffffffff) return 0;
  if (ip >>> 28 === 14) return 1;
  const d = devs.list[dev];
  if (d === undefined) return -1;
  for (const a of d.addrs) {
    if (a.prefixLen >= 31) continue;
    const host = (0xffffffff >>> a.prefixLen) >>> 0;
    if (((a.addr | host) >>> 0) === ip) return 0;
  }
  return -1;
}

/** The address to send an ARP request from on d for target: same subnet first (inet_select_addr). */
function sourceFor(d: NetDevice, target: number): number {
  for (const a of d.addrs) {
    const m = a.prefixLen === 0 ? 0 : (0xffffffff << (32 - a.prefixLen)) >>> 0;
    if (((a.addr ^ target) & m) >>> 0 === 0) return a.addr >>> 0;
  }
  return d.addrs.length > 0 ? d.addrs[0].addr >>> 0 : 0;
}

import type { Batch } from '../core/batch.ts';
import type { Graph } from '../core/graph.ts';
import { IP_DF, IP_MF, IP_OFFSET, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_TOT_LEN, ipFragOff, ipIhl, ipSendCheck } from '../wire/ipv4.ts';
import { ipOptionsFragment } from '../wire/ipv4-options.ts';
import type { Ipv4Ctx } from './ctx.ts';
import { IP } from './mib.ts';

/**
 * ip_fragment for a datagram larger than `mtu` (DF clear; the caller checked). Runs after
 * POSTROUTING, as ip_finish_output does, so netfilter saw the whole datagram once and the
 * fragments go straight to `next` (neigh-output): re-entering the graph earlier would run the
 * hooks again per fragment.
 *
 * The original frame becomes the first fragment (truncated in place: no copy of the first
 * MTU's worth); each further fragment is a new pool frame holding a copy of the IP header
 * (non-copied options replaced by NOOPs) and its slice of the data, appended to the batch
 * with the original's metadata. All or nothing: if the pool or the batch has no room, nothing is
 * emitted and the caller drops the datagram (FragFails). Returns true on success: then every
 * fragment, the first (packet i) included, has been enqueued to `next`.
 */
export function ipFragment(ctx: Ipv4Ctx, g: Graph, b: Batch, i: number, mtu: number, next: number): boolean {
  const u8 = ctx.u8;
  const dv = ctx.dv;
  const m = ctx.mib.ip.v;
  const l3 = b.l3[i];
  const h = b.addr[i] + l3;
  const tot = b.len[i] - l3;
  const ihl = ipIhl(u8, h);
  const per = (mtu - ihl) & ~7;
  const data = tot - ihl;
  if (per < 8 || data <= per) {
    m[IP.FragFails]++;
    return false;
  }
  const nfrags = Math.ceil(data / per);
  const room = b.capacity < g.capacity ? b.capacity : g.capacity;
  if (b.n + nfrags - 1 > room || ctx.pool.available < nfrags - 1 || l3 + ihl + per > ctx.frameRoom) {
    m[IP.FragFails]++;
    return false;
  }
  const fo = ipFragOff(dv, h);
  const baseOff = fo & IP_OFFSET;
  const lastMf = fo & IP_MF;
  const keep = fo & IP_DF; // DF stays as it was (clear here: the caller checked)
  // The first fragment leaves first, as in Linux (it carries the transport header).
  g.enqueue(next, i);
  for (let k = 1; k < nfrags; k++) {
    const na = ctx.pool.alloc();
    const nh = na + l3;
    const off = k * per;
    const chunk = k === nfrags - 1 ? data - off : per;
    u8.copyWithin(nh, h, h + ihl);
    if (ihl > IPV4_HLEN) ipOptionsFragment(u8, nh, ihl);
    u8.copyWithin(nh + ihl, h + ihl + off, h + ihl + off + chunk);
    dv.setUint16(nh + IPV4_TOT_LEN, ihl + chunk);
    dv.setUint16(nh + IPV4_FRAG_OFF, keep | (k === nfrags - 1 ? lastMf : IP_MF) | (baseOff + (off >>> 3)));
    ipSendCheck(dv, nh);
    const x = b.push(na, l3 + ihl + chunk, b.iif[i]);
    b.l3[x] = l3;
    b.l4[x] = l3 + ihl;
    b.oif[x] = b.oif[i];
    b.nh[x] = b.nh[i];
    b.mark[x] = b.mark[i];
    b.vlan[x] = b.vlan[i];
    b.pkttype[x] = b.pkttype[i];
    b.aux[x] = b.aux[i];
    g.enqueue(next, x);
  }
  dv.setUint16(h + IPV4_TOT_LEN, ihl + per);
  dv.setUint16(h + IPV4_FRAG_OFF, keep | IP_MF | baseOff);
  ipSendCheck(dv, h);
  b.len[i] = l3 + ihl + per;
  m[IP.FragCreates] += nfrags;
  m[IP.FragOKs]++;
  return true;
}

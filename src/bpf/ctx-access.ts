// XdpContext's accessors (src/core/xdp-helpers.ts) in IR: the same parse, the same -1 for an
// absent or truncated field, so a compiled filter returns what the JS one does on every frame.
// The JS context parses lazily; here the parse runs once at entry when the module uses any
// parsed field (parsing has no side effects, so the values are the same).
import type ts from 'typescript';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import type { Opnd } from './ir.ts';
import { isK } from './ir.ts';
import type { Lowerer, Val } from './lower.ts';

const { ETH_HLEN, ETH_P_IP, ETH_P_8021AD, ETH_P_8021Q, ETH_TYPE, VLAN_ENCAP_TYPE, VLAN_HLEN, VLAN_TCI, VLAN_VID_MASK } = ethernet;
const { IP_OFFSET, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_HLEN, IPV4_PROTOCOL, IPV4_SADDR, IPV4_TTL, IPV4_VIHL } = ipv4;
const { TCP_FLAGS } = tcp;
const { UDP_DEST, UDP_SOURCE } = udp;

/** Accessors that need the L2 parse, the L3 parse, and every method a compiled filter may call. */
export const L2_ACCESSORS = new Set(['ethType', 'vlanId', 'l3Offset']);
export const L3_ACCESSORS = new Set(['ipProto', 'ipSrc', 'ipDst', 'ipTtl', 'l4Offset', 'l4Sport', 'l4Dport', 'tcpFlags']);
export const ACCESSORS = new Set([...L2_ACCESSORS, ...L3_ACCESSORS, 'u8At', 'u16At', 'u32At']);

/** Slots holding the parse (XdpContext's private fields). */
export interface ParseSlots {
  l3: boolean;
  etype: number;
  vid: number;
  l3o: number;
  proto: number;
  l4o: number;
}

const K = (k: number | bigint): Opnd => ({ k: BigInt(k) });
const S = (s: number): Opnd => ({ s });
const num = (o: Opnd, tmp = false): Val => ({ t: 'num', o, tmp });

/** d = the size-byte big-endian field at offset `off` from data, -1 if outside the frame. */
function pkt(L: Lowerer, node: ts.Node, off: Opnd, size: 1 | 2 | 4): Val {
  if (isK(off) && (off.k < 0n || off.k > 0x7fffn)) return num(K(-1));
  const d = L.slot(node);
  L.emit({ op: 'pkt', d, off, size });
  L.setRange(d, { lo: -1n, hi: (1n << BigInt(size * 8)) - 1n });
  return num(S(d), true);
}

/** l3o + k as an operand. */
function plus(L: Lowerer, node: ts.Node, base: number, k: number): Val {
  return L.binary('add', num(S(base)), num(K(k)), node);
}

export function emitParse(L: Lowerer, p: ParseSlots, node: ts.Node): void {
  // parseL2
  L.mov(p.vid, K(-1));
  L.mov(p.etype, K(-1));
  L.mov(p.l3o, K(-1));
  const l2done = L.label();
  const vlan = L.label();
  const t = pkt(L, node, K(ETH_TYPE), 2);
  L.branch('slt', t.o, K(0), l2done);
  L.branch('eq', t.o, K(ETH_P_8021Q), vlan);
  L.branch('eq', t.o, K(ETH_P_8021AD), vlan);
  L.mov(p.etype, t.o);
  L.mov(p.l3o, K(ETH_HLEN));
  L.jump(l2done);
  L.place(vlan);
  // The JS parse wants the whole tag (ETH_HLEN + VLAN_HLEN bytes) before reading the TCI.
  const enc = pkt(L, node, K(VLAN_ENCAP_TYPE), 2);
  L.branch('slt', enc.o, K(0), l2done);
  const tci = pkt(L, node, K(VLAN_TCI), 2);
  const vid = L.binary('and', tci, num(K(VLAN_VID_MASK)), node);
  L.mov(p.vid, vid.o);
  L.release(vid);
  L.mov(p.etype, enc.o);
  L.mov(p.l3o, K(ETH_HLEN + VLAN_HLEN));
  L.place(l2done);
  L.release(enc);
  L.release(t);
  if (!p.l3) return;
  // parseL3
  L.mov(p.proto, K(-1));
  L.mov(p.l4o, K(-1));
  const l3done = L.label();
  L.branch('ne', S(p.etype), K(ETH_P_IP), l3done);
  // o + IPV4_HLEN > len: the header's last byte is absent.
  const lastOff = plus(L, node, p.l3o, IPV4_HLEN - 1);
  const last = pkt(L, node, lastOff.o, 1);
  L.release(lastOff);
  L.branch('slt', last.o, K(0), l3done);
  L.release(last);
  const vihlOff = plus(L, node, p.l3o, IPV4_VIHL);
  const vihl = pkt(L, node, vihlOff.o, 1);
  L.release(vihlOff);
  const ver = L.binary('arsh', { ...vihl, tmp: false }, num(K(4)), node);
  L.branch('ne', ver.o, K(4), l3done);
  L.release(ver);
  const ihl = L.binary('lsh', L.binary('and', vihl, num(K(0x0f)), node), num(K(2)), node);
  L.branch('slt', ihl.o, K(IPV4_HLEN), l3done);
  const protoOff = plus(L, node, p.l3o, IPV4_PROTOCOL);
  const proto = pkt(L, node, protoOff.o, 1);
  L.release(protoOff);
  L.mov(p.proto, proto.o);
  L.release(proto);
  // Only the first fragment carries the L4 header.
  const foOff = plus(L, node, p.l3o, IPV4_FRAG_OFF);
  const fo = L.binary('and', pkt(L, node, foOff.o, 2), num(K(IP_OFFSET)), node);
  L.release(foOff);
  L.branch('ne', fo.o, K(0), l3done);
  L.release(fo);
  // l4 <= len: the byte before l4 is present.
  const l4 = L.binary('add', num(S(p.l3o)), ihl, node);
  const beforeOff = L.binary('add', { ...l4, tmp: false }, num(K(-1)), node);
  const before = pkt(L, node, beforeOff.o, 1);
  L.release(beforeOff);
  L.branch('slt', before.o, K(0), l3done);
  L.release(before);
  L.mov(p.l4o, l4.o);
  L.release(l4);
  L.place(l3done);
}

export function lowerAccessor(L: Lowerer, name: string, args: Val[], node: ts.CallExpression): Val {
  const want = name.endsWith('At') ? 1 : 0;
  if (args.length !== want) L.fail(node, `ctx.${name}() takes ${want} argument${want === 1 ? '' : 's'}`);
  if (args.some((a) => a.t !== 'num')) L.fail(node, `ctx.${name}() of a boolean`);
  if (name === 'u8At' || name === 'u16At' || name === 'u32At') {
    const v = pkt(L, node, args[0].o, name === 'u8At' ? 1 : name === 'u16At' ? 2 : 4);
    L.release(args[0]);
    return v;
  }
  const p = L.parse!;
  switch (name) {
    case 'ethType':
      return num(S(p.etype));
    case 'vlanId':
      return num(S(p.vid));
    case 'l3Offset':
      return num(S(p.l3o));
    case 'ipProto':
      return num(S(p.proto));
    case 'l4Offset':
      return num(S(p.l4o));
    case 'ipSrc':
    case 'ipDst':
    case 'ipTtl': {
      const d = L.slot(node);
      const end = L.label();
      L.mov(d, K(-1));
      L.branch('slt', S(p.proto), K(0), end);
      const off = plus(L, node, p.l3o, name === 'ipSrc' ? IPV4_SADDR : name === 'ipDst' ? IPV4_DADDR : IPV4_TTL);
      const v = pkt(L, node, off.o, name === 'ipTtl' ? 1 : 4);
      L.release(off);
      L.mov(d, v.o);
      L.release(v);
      L.place(end);
      return num(S(d), true);
    }
    case 'l4Sport':
    case 'l4Dport': {
      const d = L.slot(node);
      const end = L.label();
      const ok = L.label();
      L.mov(d, K(-1));
      L.branch('slt', S(p.l4o), K(0), end);
      L.branch('eq', S(p.proto), K(IPPROTO_TCP), ok);
      L.branch('ne', S(p.proto), K(IPPROTO_UDP), end);
      L.place(ok);
      // Both ports present (o + 4 <= len), as the JS accessor requires, then the one asked for.
      const dOff = plus(L, node, p.l4o, UDP_DEST);
      const dport = pkt(L, node, dOff.o, 2);
      L.release(dOff);
      L.branch('slt', dport.o, K(0), end);
      if (name === 'l4Dport') L.mov(d, dport.o);
      else {
        const sOff = plus(L, node, p.l4o, UDP_SOURCE);
        const sport = pkt(L, node, sOff.o, 2);
        L.release(sOff);
        L.mov(d, sport.o);
        L.release(sport);
      }
      L.release(dport);
      L.place(end);
      return num(S(d), true);
    }
    case 'tcpFlags': {
      const d = L.slot(node);
      const end = L.label();
      L.mov(d, K(-1));
      L.branch('slt', S(p.l4o), K(0), end);
      L.branch('ne', S(p.proto), K(IPPROTO_TCP), end);
      const off = plus(L, node, p.l4o, TCP_FLAGS);
      const v = pkt(L, node, off.o, 1);
      L.release(off);
      L.mov(d, v.o);
      L.release(v);
      L.place(end);
      return num(S(d), true);
    }
  }
  return L.fail(node, `ctx.${name}() is not compiled`);
}

/** Why a ctx member has no kernel equivalent, for the refusal. */
export const CTX_HINT: Record<string, string> = {
  ifindex: "ctx.ifindex is softnet's device index, which the kernel does not know",
  redirect: 'redirecting to a softnet device cannot run in the kernel: return XDP_PASS and redirect in JS (offload: js)',
  deviceIndex: 'device names are resolved at setup, not in the kernel',
  data: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  u8: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  dv: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  set: 'the hook points the context at frames, not the filter',
  redirectTo: 'redirects are outside the compiled subset',
};

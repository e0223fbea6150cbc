/**
 * get_unique_tuple (nf_nat_core.c): given a connection's tuple as its first packet has it and a
 * range, the tuple to rewrite it to, such that no other connection's reply tuple is the new
 * reply tuple (nf_nat_used_tuple: conntrack keeps only incoming tuples, so it looks up the
 * inverse). Order as the kernel's: for SRC, keep the tuple when it is in range and free, or take
 * the mapping this source already has (by-source hint); then the range's address for this
 * src/dst pair (find_best_ips_proto); then the port/id search from a random offset, at most 128
 * tries then halving windows. Tuples are 4 words [src, dst, ports, proto] (conntrack/tuple.ts).
 * Allocation-free: scratch tuples, xorshift for the offsets.
 */

import type { CtTable } from '../conntrack/table.ts';
import { invertPorts } from '../conntrack/tuple.ts';
import * as range from '../netfilter/target/nat-range.ts';
import { NAT_MANIP_SRC } from '../../wire/nat.ts';

const { NF_NAT_RANGE_MAP_IPS, NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM_ALL, NF_NAT_RANGE_PROTO_SPECIFIED } = range;
const SRC = NAT_MANIP_SRC;
const MAX_ATTEMPTS = 128;

/** A range as the targets chose it (struct nf_nat_range2), reused. */
export class NatRange {
  flags = 0;
  minIp = 0;
  maxIp = 0;
  minPort = 0;
  maxPort = 0;
}

/** The manipulated port (or ICMP id) of a tuple's ports word. */
export function manipPort(proto: number, ports: number, manip: number): number {
  return proto === 1 || manip === SRC ? ports >>> 16 : ports & 0xffff;
}

function withPort(proto: number, ports: number, manip: number, port: number): number {
  return (proto === 1 || manip === SRC ? (port << 16) | (ports & 0xffff) : (ports & 0xffff0000) | port) >>> 0;
}

export class TupleAlloc {
  private rnd: number;

  constructor(
    private readonly table: CtTable,
    seed: number,
  ) {
    this.rnd = seed >>> 0 || 0x9e3779b9;
  }

  private random16(): number {
    let x = this.rnd;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rnd = x >>> 0;
    return x & 0xffff;
  }

  /** nf_nat_used_tuple: another entry (not `ignore`) already answers to the inverse of t. */
  used(src: number, dst: number, ports: number, proto: number, ignore: number): boolean {
    const inv = proto === 6 || proto === 17 || proto === 1 ? invertPorts(proto, ports) : ports;
    if (inv < 0) return false;
    const n = this.table.find(dst, src, inv, proto);
    return n >= 0 && n >> 1 !== ignore;
  }

  /** in_range (SRC): the address and port/id of t lie in r. */
  inRange(t: Uint32Array, r: NatRange): boolean {
    if (r.flags & NF_NAT_RANGE_MAP_IPS && !(t[0] >= r.minIp && t[0] <= r.maxIp)) return false;
    if (!(r.flags & NF_NAT_RANGE_PROTO_SPECIFIED)) return true;
    return this.l4InRange(t, SRC, r);
  }

  private l4InRange(t: Uint32Array, manip: number, r: NatRange): boolean {
    const proto = t[3];
    if (proto !== 6 && proto !== 17 && proto !== 1) return true;
    const p = manipPort(proto, t[2], manip);
    return p >= r.minPort && p <= r.maxPort;
  }

  /**
   * get_unique_tuple: out = the tuple for cur (entry e) under r. `hint` is the tuple this
   * source is mapped to already (find_appropriate_src; hint[3] === 0: none). false when every
   * candidate is taken (the kernel would fail at confirm: the packet is dropped either way).
   */
  unique(out: Uint32Array, cur: Uint32Array, r: NatRange, manip: number, e: number, hint: Uint32Array): boolean {
    const flags = r.flags;
    if (manip === SRC && !(flags & NF_NAT_RANGE_PROTO_RANDOM_ALL)) {
      if (this.inRange(cur, r)) {
        if (!this.used(cur[0], cur[1], cur[2], cur[3], e)) {
          out.set(cur);
          return true;
        }
      } else if (hint[3] !== 0 && this.inRange(hint, r) && !this.used(hint[0], hint[1], hint[2], hint[3], e)) {
        out.set(hint);
        return true;
      }
    }
    out.set(cur);
    this.bestIp(out, r, manip);
    if (!(flags & NF_NAT_RANGE_PROTO_RANDOM_ALL)) {
      if (flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
        if (this.l4InRange(out, manip, r) && (r.minPort === r.maxPort || !this.used(out[0], out[1], out[2], out[3], e))) return true;
      } else if (!this.used(out[0], out[1], out[2], out[3], e)) return true;
    }
    return this.uniquePort(out, r, manip, e);
  }

  /**
   * find_best_ips_proto: one address of the range, chosen by a hash of the source (and, unless
   * --persistent, the destination), so a client keeps its address across connections.
   */
  private bestIp(t: Uint32Array, r: NatRange, manip: number): void {
    if (!(r.flags & NF_NAT_RANGE_MAP_IPS)) return;
    const k = manip === SRC ? 0 : 1;
    if (r.minIp === r.maxIp) {
      t[k] = r.minIp;
      return;
    }
    let j = Math.imul(t[0] ^ 0x5bd1e995, 0x9e3779b1);
    if (!(r.flags & NF_NAT_RANGE_PERSISTENT)) j = Math.imul(j ^ t[1], 0x85ebca6b);
    j = (j ^ (j >>> 15)) >>> 0;
    const dist = r.maxIp - r.minIp + 1;
    t[k] = (r.minIp + Math.floor((j * dist) / 4294967296)) >>> 0;
  }

  /** nf_nat_l4proto_unique_tuple: a free port (TCP/UDP) or id (ICMP) in the range. */
  private uniquePort(t: Uint32Array, r: NatRange, manip: number, e: number): boolean {
    const proto = t[3];
    let min: number;
    let size: number;
    if (proto === 1) {
      if (r.flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
        min = r.minPort;
        size = r.maxPort - r.minPort + 1;
      } else {
        min = 0;
        size = 65536;
      }
    } else if (proto === 6 || proto === 17) {
      if (!(r.flags & NF_NAT_RANGE_PROTO_SPECIFIED)) {
        // A destination's port is not ours to change; a source keeps its class (< 512, < 1024).
        if (manip !== SRC) return !this.used(t[0], t[1], t[2], t[3], e);
        const p = t[2] >>> 16;
        if (p < 1024) {
          if (p < 512) (min = 1), (size = 511);
          else (min = 600), (size = 1024 - 600);
        } else (min = 1024), (size = 65536 - 1024);
      } else {
        min = r.minPort;
        size = r.maxPort - r.minPort + 1;
      }
    } else return !this.used(t[0], t[1], t[2], t[3], e);
    let off = this.random16();
    let attempts = size < MAX_ATTEMPTS ? size : MAX_ATTEMPTS;
    for (;;) {
      for (let i = 0; i < attempts; i++, off++) {
        t[2] = withPort(proto, t[2], manip, min + (off % size));
        if (!this.used(t[0], t[1], t[2], t[3], e)) return true;
      }
      if (attempts >= size || attempts < 16) return false;
      attempts >>= 1;
      off = this.random16();
    }
  }
}

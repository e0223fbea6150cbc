/**
 * ICMP connection tracking (nf_conntrack_proto_icmp.c): queries (echo, timestamp, info, address
 * mask) are connections keyed by their id, answered by their reply type (tuple.ts ICMP_INVMAP);
 * errors (destination unreachable, source quench, redirect, time exceeded, parameter problem)
 * belong to the connection whose packet they quote: icmp_error_message looks up the inverted
 * tuple of the quoted header and makes the error RELATED to what it finds.
 */

import { ipProto } from '../../wire/ipv4.ts';
import { ICMP_DEST_UNREACH, ICMP_PARAMETERPROB, ICMP_REDIRECT, ICMP_SOURCE_QUENCH, ICMP_TIME_EXCEEDED, NR_ICMP_TYPES } from '../../wire/icmp.ts';
import { invertPorts } from './tuple.ts';
import type { CtTable } from './table.ts';

/** The error types that quote a packet (icmp_is_err). */
export function icmpIsErr(type: number): boolean {
  return type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_REDIRECT || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETERPROB;
}

/** icmp_error's first checks: a whole ICMP header and a type Linux knows. */
export function icmpError(u8: Uint8Array, ih: number, len: number): boolean {
  return len < 8 || u8[ih] > NR_ICMP_TYPES;
}

/**
 * icmp_error_message: the node (e*2+dir) of the connection an ICMP error quotes, or -1. `ih` is
 * the ICMP header, `len` the bytes from it to the datagram's end, `outerDst` the error's
 * destination, which must be the quoted packet's source (nf_conntrack_inet_error).
 */
export function icmpRelated(t: CtTable, u8: Uint8Array, dv: DataView, ih: number, len: number, outerDst: number): number {
  const ip = ih + 8;
  const room = len - 8;
  if (room < 20 || u8[ip] >>> 4 !== 4) return -1;
  const ihl = (u8[ip] & 0x0f) << 2;
  if (ihl < 20 || room < ihl + 8) return -1;
  // A quoted fragment that is not the first has no ports to find a connection by.
  if ((dv.getUint16(ip + 6) & 0x1fff) !== 0) return -1;
  const proto = ipProto(u8, ip);
  // int32 words, as CtTable.find and Conntrack.in pass them.
  const src = dv.getInt32(ip + 12);
  const dst = dv.getInt32(ip + 16);
  const l4 = ip + ihl;
  let ports = 0;
  if (proto === 6 || proto === 17) ports = dv.getInt32(l4);
  else if (proto === 1) {
    const type = u8[l4];
    // An error about an error is never related to anything (icmp_error_message refuses it).
    if (icmpIsErr(type) || type > NR_ICMP_TYPES) return -1;
    ports = (dv.getUint16(l4 + 4) << 16) | (type << 8) | u8[l4 + 1];
  }
  const inv = proto === 6 || proto === 17 || proto === 1 ? invertPorts(proto, ports) : 0;
  if (inv < 0) return -1;
  const n = t.find(dst, src, inv, proto);
  if (n < 0 || src !== (outerDst | 0)) return -1;
  return n;
}

/**
 * The conntrack tuple (struct nf_conntrack_tuple) as four u32 words, and its hash
 * (hash_conntrack_raw): addresses, the protocol's "ports" word, the protocol number.
 *
 *   TCP, UDP:        ports = sport << 16 | dport
 *   ICMP (queries):  ports = id << 16 | type << 8 | code   (the echo id plays the port)
 *   anything else:   ports = 0                            (nf_conntrack_proto_generic)
 */

import { ICMP_ECHO, ICMP_ECHOREPLY, ICMP_TIMESTAMP, ICMP_TIMESTAMPREPLY } from '../../wire/icmp.ts';

export const ICMP_INFO_REQUEST = 15;
export const ICMP_INFO_REPLY = 16;
export const ICMP_ADDRESS = 17;
export const ICMP_ADDRESSREPLY = 18;

/**
 * nf_conntrack_proto_icmp's invmap: the reply type of each query type and back, +1 (0 = a type
 * that has no reply, so it cannot start or continue a connection).
 */
export const ICMP_INVMAP = new Uint8Array(19);
ICMP_INVMAP[ICMP_ECHO] = ICMP_ECHOREPLY + 1;
ICMP_INVMAP[ICMP_ECHOREPLY] = ICMP_ECHO + 1;
ICMP_INVMAP[ICMP_TIMESTAMP] = ICMP_TIMESTAMPREPLY + 1;
ICMP_INVMAP[ICMP_TIMESTAMPREPLY] = ICMP_TIMESTAMP + 1;
ICMP_INVMAP[ICMP_INFO_REQUEST] = ICMP_INFO_REPLY + 1;
ICMP_INVMAP[ICMP_INFO_REPLY] = ICMP_INFO_REQUEST + 1;
ICMP_INVMAP[ICMP_ADDRESS] = ICMP_ADDRESSREPLY + 1;
ICMP_INVMAP[ICMP_ADDRESSREPLY] = ICMP_ADDRESS + 1;

/** The query types that may start a connection (icmp_new's valid_new). */
export const ICMP_VALID_NEW = new Uint8Array(19);
ICMP_VALID_NEW[ICMP_ECHO] = 1;
ICMP_VALID_NEW[ICMP_TIMESTAMP] = 1;
ICMP_VALID_NEW[ICMP_INFO_REQUEST] = 1;
ICMP_VALID_NEW[ICMP_ADDRESS] = 1;

/**
 * The reply direction's ports word (nf_ct_invert_tuple): ports swapped for TCP/UDP, the reply
 * type for ICMP; -1 when there is none (an ICMP type without a reply).
 */
export function invertPorts(proto: number, ports: number): number {
  if (proto === 1) {
    const type = (ports >>> 8) & 0xff;
    const inv = type < 19 ? ICMP_INVMAP[type] : 0;
    if (inv === 0) return -1;
    return ((ports & 0xffff00ff) | ((inv - 1) << 8)) >>> 0;
  }
  return ((ports >>> 16) | (ports << 16)) >>> 0;
}

/** hash_conntrack_raw: a keyed mix of the tuple (the key is the table's random seed). */
export function tupleHash(seed: number, src: number, dst: number, ports: number, proto: number): number {
  let h = Math.imul(src ^ seed, 0x9e3779b1) ^ dst;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ ports;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ proto;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  // int32, not u32: a returned u32 >= 2^31 would be a heap number; callers mask it anyway.
  return h ^ (h >>> 15);
}

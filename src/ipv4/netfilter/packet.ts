/**
 * The netfilter hook interface: hook numbers, verdicts, and NfPacket, the one reused object the
 * hook stage fills per packet (numeric fields only) before calling Netfilter.hook().
 */

// include/uapi/linux/netfilter.h
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_IN = 1;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
export const NF_INET_NUMHOOKS = 5;

export const NF_DROP = 0;
export const NF_ACCEPT = 1;
/**
 * Not a kernel verdict: the REJECT target's "drop and answer". The caller drops the packet and
 * sends what p.rejectWith says: an ICMP destination-unreachable with code p.rejectWith (0..15),
 * or a TCP RST when p.rejectWith === REJECT_TCP_RESET.
 */
export const NF_REJECT = 2;

// ICMP destination unreachable codes used by --reject-with (RFC 792/1812).
export const REJECT_NET_UNREACH = 0;
export const REJECT_HOST_UNREACH = 1;
export const REJECT_PROTO_UNREACH = 2;
export const REJECT_PORT_UNREACH = 3;
export const REJECT_NET_PROHIBITED = 9;
export const REJECT_HOST_PROHIBITED = 10;
export const REJECT_ADMIN_PROHIBITED = 13;
export const REJECT_TCP_RESET = 256;

/**
 * NfPacket's fields in groups, so that the hook stage fills only what a hook's rules read
 * (Netfilter.fieldsAt, from the extensions' code). proto, len, fragOff and rejectWith are
 * always filled; the out fields (notrack, nat*) are written by targets, never read before.
 */
export const NFF_IF = 1; // iif, oif
export const NFF_ADDR = 2; // saddr, daddr
export const NFF_L4 = 4; // sport, dport, tcpFlags, icmpType, icmpCode
export const NFF_MARK = 8; // mark (and its write-back after the hook)
export const NFF_CT = 16; // nfct, ctState, ctStatus
export const NFF_IPH = 32; // h, nh
export const NFF_ALL = 63;

const GROUP: Record<string, number> = {
  iif: NFF_IF,
  oif: NFF_IF,
  saddr: NFF_ADDR,
  daddr: NFF_ADDR,
  sport: NFF_L4,
  dport: NFF_L4,
  tcpFlags: NFF_L4,
  icmpType: NFF_L4,
  icmpCode: NFF_L4,
  mark: NFF_MARK,
  nfct: NFF_CT,
  ctState: NFF_CT,
  ctStatus: NFF_CT,
  h: NFF_IPH,
  nh: NFF_IPH,
  proto: 0,
  len: 0,
  fragOff: 0,
  rejectWith: 0,
  notrack: 0,
  natKind: 0,
  natFlags: 0,
  natMinIp: 0,
  natMaxIp: 0,
  natMinPort: 0,
  natMaxPort: 0,
};

/**
 * The groups a snippet of extension code reads through `p`: every `p.field` it names, and all of
 * them when it hands `p` itself to a function (LOG, multiport) or names a field not listed here.
 */
export function fieldsRead(code: string): number {
  if (/\bp\b(?!\.)/.test(code)) return NFF_ALL;
  let m = 0;
  for (const [, f] of code.matchAll(/\bp\.(\w+)/g)) m |= GROUP[f] ?? NFF_ALL;
  return m;
}

export class NfPacket {
  /** Ingress / egress device index, -1 if none (no iif on OUTPUT, no oif before routing). */
  iif = -1;
  oif = -1;
  /** Addresses in host order (u32). */
  saddr = 0;
  daddr = 0;
  /** IP protocol number. */
  proto = 0;
  /** TCP/UDP ports, -1 when absent (other protocols, or a header that does not fit). */
  sport = -1;
  dport = -1;
  /** ICMP type and code, -1 when not ICMP. */
  icmpType = -1;
  icmpCode = -1;
  /** TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20). */
  tcpFlags = 0;
  /** IP total length: what -m length matches and byte counters add. */
  len = 0;
  /** skb->mark: read by -m mark, written by the MARK target (u32). */
  mark = 0;
  /** Fragment offset (in 8-byte units); non-first fragments (!= 0) never match ports/types/flags. */
  fragOff = 0;
  /** Out: set when hook() returns NF_REJECT (see NF_REJECT). */
  rejectWith = 0;
  /**
   * The packet's conntrack reference (Batch.nfct: entry << 3 | ctinfo, conntrack/common.ts) and
   * its state as xt_conntrack bits (XT_CONNTRACK_STATE_*: INVALID 1, ESTABLISHED 2, RELATED 4,
   * NEW 8, SNAT 64, DNAT 128, UNTRACKED 256), which --ctstate/--state test.
   */
  nfct = -1;
  ctState = 1;
  /** Its entry's IPS_* status bits (--ctstatus), -1 without an entry. */
  ctStatus = -1;
  /** Out: the CT --notrack target ran (raw table): the packet stays UNTRACKED. */
  notrack = 0;
  /** The IP header's address in the UMEM and the next hop (b.nh): what the NAT core rewrites and MASQUERADE reads. */
  h = 0;
  nh = 0;
  /**
   * Out of the nat table (target/nat-range.ts): the NAT target that ran (NAT_*, 0 none) and the
   * range it chose (struct nf_nat_range2: host-order addresses, ports, NF_NAT_RANGE_* flags).
   */
  natKind = 0;
  natFlags = 0;
  natMinIp = 0;
  natMaxIp = 0;
  natMinPort = 0;
  natMaxPort = 0;
}

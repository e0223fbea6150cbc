/**
 * Connection tracking's shared names (include/uapi/linux/netfilter/nf_conntrack_common.h and
 * xt_conntrack.h): ctinfo, directions, status bits, the match state bits, and how a packet
 * carries its conntrack reference (the kernel's skb->_nfct: entry and ctinfo in one word).
 */

// enum ip_conntrack_info
export const IP_CT_ESTABLISHED = 0;
export const IP_CT_RELATED = 1;
export const IP_CT_NEW = 2;
export const IP_CT_IS_REPLY = 3;
export const IP_CT_ESTABLISHED_REPLY = 3;
export const IP_CT_RELATED_REPLY = 4;
export const IP_CT_UNTRACKED = 7;

// enum ip_conntrack_dir
export const IP_CT_DIR_ORIGINAL = 0;
export const IP_CT_DIR_REPLY = 1;

// enum ip_conntrack_status
export const IPS_EXPECTED = 1 << 0;
export const IPS_SEEN_REPLY = 1 << 1;
export const IPS_ASSURED = 1 << 2;
export const IPS_CONFIRMED = 1 << 3;
export const IPS_SRC_NAT = 1 << 4;
export const IPS_DST_NAT = 1 << 5;
export const IPS_NAT_MASK = IPS_SRC_NAT | IPS_DST_NAT;
export const IPS_SEQ_ADJUST = 1 << 6;
export const IPS_SRC_NAT_DONE = 1 << 7;
export const IPS_DST_NAT_DONE = 1 << 8;
export const IPS_NAT_DONE_MASK = IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE;
export const IPS_DYING = 1 << 9;

/** `--ctstatus` names (libxt_conntrack), in its print order. */
export const CTSTATUS_NAMES: ReadonlyArray<[string, number]> = [
  ['NONE', 0],
  ['EXPECTED', IPS_EXPECTED],
  ['SEEN_REPLY', IPS_SEEN_REPLY],
  ['ASSURED', IPS_ASSURED],
  ['CONFIRMED', IPS_CONFIRMED],
];

// xt_conntrack.h: the state bits -m conntrack --ctstate and -m state --state test.
export const XT_CONNTRACK_STATE_INVALID = 1 << 0;
/** ESTABLISHED 1<<1, RELATED 1<<2, NEW 1<<3: XT_CONNTRACK_STATE_BIT(ctinfo) = 1 << (ctinfo % IP_CT_IS_REPLY + 1). */
export const XT_CONNTRACK_STATE_ESTABLISHED = 1 << 1;
export const XT_CONNTRACK_STATE_RELATED = 1 << 2;
export const XT_CONNTRACK_STATE_NEW = 1 << 3;
export const XT_CONNTRACK_STATE_SNAT = 1 << 6;
export const XT_CONNTRACK_STATE_DNAT = 1 << 7;
export const XT_CONNTRACK_STATE_UNTRACKED = 1 << 8;

/** State names in libxt_conntrack's print order. */
export const CTSTATE_NAMES: ReadonlyArray<[string, number]> = [
  ['INVALID', XT_CONNTRACK_STATE_INVALID],
  ['NEW', XT_CONNTRACK_STATE_NEW],
  ['RELATED', XT_CONNTRACK_STATE_RELATED],
  ['ESTABLISHED', XT_CONNTRACK_STATE_ESTABLISHED],
  ['UNTRACKED', XT_CONNTRACK_STATE_UNTRACKED],
  ['SNAT', XT_CONNTRACK_STATE_SNAT],
  ['DNAT', XT_CONNTRACK_STATE_DNAT],
];

/**
 * A packet's conntrack reference (Batch.nfct, skb->_nfct): `entry << 3 | ctinfo`. NFCT_NONE: no
 * entry (not tracked yet, or INVALID); NFCT_UNTRACKED: NOTRACK'ed in the raw table (ctinfo 7 with
 * entry 0 never occurs otherwise); NFCT_DROP is only returned by Conntrack.in(): drop the packet.
 */
export const NFCT_NONE = -1;
export const NFCT_UNTRACKED = IP_CT_UNTRACKED;
export const NFCT_DROP = -2;

/**
 * Connection tracking for one stack (nf_conntrack_core.c): nf_conntrack_in at PREROUTING and
 * OUTPUT (find the packet's entry by its tuple, or make an unconfirmed one, and let the protocol
 * judge the packet), __nf_conntrack_confirm at POSTROUTING and INPUT (an accepted first packet's
 * entry enters the hash), expiry on a timer wheel, early drop when full, `conntrack -S` counters.
 *
 * The hot path allocates nothing: entries are indices into the table's typed arrays, a packet
 * carries `entry << 3 | ctinfo` (common.ts) in Batch.nfct. Entries made for packets that never
 * reach confirmation (dropped by a rule, answered with an ICMP error) are freed when the dispatch
 * that made them ends (reclaim(), called from ip-rcv's flush): the kernel frees them with the skb.
 */

import { coarseClock } from '../../core/clock.ts';
import { TimerWheel } from '../../core/timer-wheel.ts';
import * as wireIpv4 from '../../wire/ipv4.ts';
import * as common from './common.ts';
import { icmpError, icmpIsErr, icmpRelated } from './proto-icmp.ts';
import * as tcp from './proto-tcp.ts';
import { udpError, udpPacket } from './proto-udp.ts';
import { defaultConntrackSysctl, type ConntrackSysctl } from './sysctl.ts';
import { CtTable } from './table.ts';
import { ICMP_VALID_NEW, invertPorts } from './tuple.ts';

// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { IP_CT_ESTABLISHED, IP_CT_ESTABLISHED_REPLY, IP_CT_IS_REPLY, IP_CT_NEW, IP_CT_RELATED, IP_CT_RELATED_REPLY, IPS_ASSURED, IPS_CONFIRMED, IPS_DST_NAT, IPS_DYING, IPS_SEEN_REPLY, IPS_SRC_NAT } = common;
const { NFCT_DROP, NFCT_NONE, NFCT_UNTRACKED, XT_CONNTRACK_STATE_DNAT, XT_CONNTRACK_STATE_INVALID, XT_CONNTRACK_STATE_SNAT, XT_CONNTRACK_STATE_UNTRACKED } = common;
const { TCP_ACCEPT_KILL, TCP_INVALID, TCP_REPEAT, tcpError, tcpNew, tcpPacket } = tcp;
const { ipProto } = wireIpv4;

/** softnet-internal status bit: the entry is allocated (so reclaim() never frees one twice). */
const CT_LIVE = 1 << 30;
/** nf_conntrack's NF_CT_EVICTION_RANGE: buckets early_drop looks at. */
const EVICTION_RANGE = 8;
/** Entries made in one dispatch and not confirmed yet (a dispatch has at most a few hundred packets). */
const UNCONFIRMED_MAX = 4096;

/** `conntrack -S` counters (struct ip_conntrack_stat), in its print order. */
export const CT_STAT_NAMES = ['found', 'invalid', 'insert', 'insert_failed', 'drop', 'early_drop', 'error', 'search_restart', 'clash_resolve', 'chaintoolong'] as const;
export const CT_FOUND = 0;
export const CT_INVALID = 1;
export const CT_INSERT = 2;
export const CT_INSERT_FAILED = 3;
export const CT_DROP = 4;
export const CT_EARLY_DROP = 5;
export const CT_CLASH_RESOLVE = 8;

export interface ConntrackOptions {
  /** Hash buckets (power of two); default sysctl.ts defaultBuckets(). */
  buckets?: number;
  sysctl?: ConntrackSysctl;
  /** Millisecond clock read per packet (default: the poll loop's coarse clock). */
  clock?: Float64Array;
  /** Expiry wheel options (tests: a manual clock, wake: false). Resolution is 1 s unless told. */
  wheel?: ConstructorParameters<typeof TimerWheel>[0];
  /** Hash seed (tests); default random. */
  seed?: number;
  /** Where "nf_conntrack: table full, dropping packet" goes. */
  log?: (line: string) => void;
}

export class Conntrack {
  readonly table: CtTable;
  readonly sysctl: ConntrackSysctl;
  readonly stats = new Float64Array(CT_STAT_NAMES.length);
  /** Expiry timers, one per entry (timer id = entry index), 1 s resolution: conntrack times are seconds. */
  readonly wheel: TimerWheel;
  private readonly clock: Float64Array;
  private readonly log: (line: string) => void;
  private lastFullLog = -Infinity;
  /** TCP timeouts (s) by state, then max_retrans and unacknowledged (proto-tcp.ts TCP_TIMEOUTS). */
  private readonly tcpTimeouts = new Int32Array(tcp.TCP_TIMEOUTS);
  private readonly unconf = new Int32Array(UNCONFIRMED_MAX);
  private nUnconf = 0;
  private readonly kind: number;

  constructor(o: ConntrackOptions = {}) {
    this.sysctl = o.sysctl ?? defaultConntrackSysctl();
    this.clock = o.clock ?? coarseClock;
    this.log = o.log ?? ((l) => console.error(l));
    this.wheel = new TimerWheel({ resolutionMs: 1000, slots: 1024, ...o.wheel });
    this.kind = this.wheel.kind('conntrack', (e) => this.timeout(e));
    const seed = o.seed ?? (Math.random() * 0x100000000) >>> 0;
    this.table = new CtTable(o.buckets ?? this.sysctl.nf_conntrack_max, seed, (e) => {
      const id = this.wheel.create(this.kind, e);
      if (id !== e) throw new Error(`conntrack: timer ${id} made for entry ${e}`);
    });
    this.reload();
  }

  /** Re-read the sysctls the hot path keeps in arrays (after a sysctl write). */
  reload(): void {
    const s = this.sysctl;
    const t = this.tcpTimeouts;
    t[tcp.TCP_CONNTRACK_NONE] = s.nf_conntrack_tcp_timeout_syn_sent;
    t[tcp.TCP_CONNTRACK_SYN_SENT] = s.nf_conntrack_tcp_timeout_syn_sent;
    t[tcp.TCP_CONNTRACK_SYN_RECV] = s.nf_conntrack_tcp_timeout_syn_recv;
    t[tcp.TCP_CONNTRACK_ESTABLISHED] = s.nf_conntrack_tcp_timeout_established;
    t[tcp.TCP_CONNTRACK_FIN_WAIT] = s.nf_conntrack_tcp_timeout_fin_wait;
    t[tcp.TCP_CONNTRACK_CLOSE_WAIT] = s.nf_conntrack_tcp_timeout_close_wait;
    t[tcp.TCP_CONNTRACK_LAST_ACK] = s.nf_conntrack_tcp_timeout_last_ack;
    t[tcp.TCP_CONNTRACK_TIME_WAIT] = s.nf_conntrack_tcp_timeout_time_wait;
    t[tcp.TCP_CONNTRACK_CLOSE] = s.nf_conntrack_tcp_timeout_close;
    // SYN_SENT2 has no sysctl of its own: Linux gives it syn_sent's 2 minutes.
    t[tcp.TCP_CONNTRACK_SYN_SENT2] = s.nf_conntrack_tcp_timeout_syn_sent;
    t[tcp.TCP_CONNTRACK_RETRANS] = s.nf_conntrack_tcp_timeout_max_retrans;
    t[tcp.TCP_CONNTRACK_UNACK] = s.nf_conntrack_tcp_timeout_unacknowledged;
  }

  /** The clock the entries' expiry is on (ms). */
  now(): number {
    return this.clock[0];
  }

  /**
   * nf_conntrack_in for the IPv4 datagram at h (validated, `len` bytes): the packet's nfct
   * (entry << 3 | ctinfo), NFCT_NONE when it is INVALID, or NFCT_DROP (table full).
   */
  in(u8: Uint8Array, dv: DataView, h: number, len: number): number {
    const t = this.table;
    const ihl = (u8[h] & 0x0f) << 2;
    const proto = ipProto(u8, h);
    // Linux reassembles before conntrack (nf_defrag_ipv4); softnet does not yet: a fragment is INVALID.
    if ((dv.getUint16(h + 6) & 0x3fff) !== 0) return this.invalid();
    // Tuple words as int32 (see CtTable.tupI): never boxed on their way through calls.
    const src = dv.getInt32(h + 12);
    const dst = dv.getInt32(h + 16);
    const l4 = h + ihl;
    const l4len = len - ihl;
    let ports = 0;
    if (proto === 6) {
      if (tcpError(u8, l4, l4len)) return this.invalid();
      ports = dv.getInt32(l4);
    } else if (proto === 17) {
      if (udpError(dv, l4, l4len)) return this.invalid();
      ports = dv.getInt32(l4);
    } else if (proto === 1) {
      if (icmpError(u8, l4, l4len)) return this.invalid();
      const type = u8[l4];
      if (icmpIsErr(type)) {
        const n = icmpRelated(t, u8, dv, l4, l4len, dst);
        if (n < 0) return this.invalid();
        this.stats[CT_FOUND]++;
        return ((n >> 1) << 3) | (IP_CT_RELATED + (n & 1) * IP_CT_IS_REPLY);
      }
      ports = (dv.getUint16(l4 + 4) << 16) | (type << 8) | u8[l4 + 1];
    }
    for (let tries = 0; tries < 2; tries++) {
      const n = t.find(src, dst, ports, proto);
      let e: number;
      let dir = 0;
      let ctinfo: number;
      if (n >= 0) {
        this.stats[CT_FOUND]++;
        e = n >> 1;
        dir = n & 1;
        ctinfo = dir === 1 ? IP_CT_ESTABLISHED_REPLY : (t.status[e] & IPS_SEEN_REPLY) !== 0 ? IP_CT_ESTABLISHED : IP_CT_NEW;
      } else {
        e = this.create(u8, dv, src, dst, ports, proto, l4, l4len);
        if (e < 0) return e === NFCT_DROP ? NFCT_DROP : this.invalid();
        ctinfo = IP_CT_NEW;
      }
      let timeout: number;
      if (proto === 6) {
        const s = this.sysctl;
        timeout = tcpPacket(t, e, dir, u8, dv, l4, l4len, this.tcpTimeouts, s.nf_conntrack_tcp_be_liberal, s.nf_conntrack_tcp_max_retrans);
        if (timeout === TCP_REPEAT) {
          this.kill(e);
          continue;
        }
        if (timeout === TCP_INVALID) return this.invalid();
      } else if (proto === 17) timeout = udpPacket(t, e, this.clock, this.sysctl.nf_conntrack_udp_timeout, this.sysctl.nf_conntrack_udp_timeout_stream);
      else if (proto === 1) timeout = this.sysctl.nf_conntrack_icmp_timeout;
      else timeout = this.sysctl.nf_conntrack_generic_timeout;
      if (timeout >= 0) this.refresh(e, timeout);
      if (dir === 1) t.status[e] |= IPS_SEEN_REPLY;
      if (timeout === TCP_ACCEPT_KILL && (t.status[e] & IPS_CONFIRMED) !== 0) this.kill(e);
      return (e << 3) | ctinfo;
    }
    return this.invalid();
  }

  /**
   * __nf_conntrack_confirm, for a packet accepted at POSTROUTING or INPUT: an unconfirmed entry
   * enters the hash with its timer. false: drop the packet (another entry took the tuple and the
   * protocol allows no merging: insert_failed).
   */
  confirm(nfct: number): boolean {
    if ((nfct & 7) !== IP_CT_NEW || nfct < 0) return true;
    const e = nfct >> 3;
    const t = this.table;
    const st = t.status[e];
    if ((st & IPS_CONFIRMED) !== 0) return true;
    if ((st & IPS_DYING) !== 0 || (st & CT_LIVE) === 0) return false;
    const o = e * 8;
    const tup = t.tupI;
    const clash = t.find(tup[o], tup[o + 1], tup[o + 2], tup[o + 3]);
    if (clash >= 0 || t.find(tup[o + 4], tup[o + 5], tup[o + 6], tup[o + 7]) >= 0) {
      // Two first packets of one flow in a batch (vectors make this common for UDP): as
      // nf_ct_resolve_clash, protocols that allow it keep the entry already there.
      if (tup[o + 3] !== 6 && clash >= 0 && (clash & 1) === 0) {
        this.stats[CT_CLASH_RESOLVE]++;
        return true;
      }
      this.stats[CT_INSERT_FAILED]++;
      return false;
    }
    t.status[e] = st | IPS_CONFIRMED;
    t.hash(e);
    t.armed[e] = t.expires[e];
    this.wheel.arm(e, t.expires[e]);
    this.stats[CT_INSERT]++;
    return true;
  }

  /**
   * nf_ct_attach for an ICMP error or RST built in place from packet nfct: it belongs to the same
   * entry, RELATED, in the other direction.
   */
  attach(nfct: number): number {
    if (nfct < 0 || nfct === NFCT_UNTRACKED) return NFCT_NONE;
    const e = nfct >> 3;
    return (e << 3) | ((nfct & 7) >= IP_CT_IS_REPLY ? IP_CT_RELATED : IP_CT_RELATED_REPLY);
  }

  /** The xt_conntrack state bit(s) of a packet's nfct (what --ctstate and --state test). */
  stateBits(nfct: number): number {
    if (nfct === NFCT_NONE) return XT_CONNTRACK_STATE_INVALID;
    if (nfct === NFCT_UNTRACKED) return XT_CONNTRACK_STATE_UNTRACKED;
    const st = this.table.status[nfct >> 3];
    let bits = 1 << ((nfct & 7) % IP_CT_IS_REPLY + 1);
    if ((st & IPS_SRC_NAT) !== 0) bits |= XT_CONNTRACK_STATE_SNAT;
    if ((st & IPS_DST_NAT) !== 0) bits |= XT_CONNTRACK_STATE_DNAT;
    return bits;
  }

  /** ct->status of a packet's entry (--ctstatus), -1 without one. */
  statusOf(nfct: number): number {
    return nfct < 0 || nfct === NFCT_UNTRACKED ? -1 : this.table.status[nfct >> 3] & ~CT_LIVE;
  }

  /** End of a dispatch: free the entries whose packets never reached confirmation, and those killed during it. */
  reclaim(): void {
    const n = this.nUnconf;
    if (n === 0) return;
    const t = this.table;
    for (let k = 0; k < n; k++) {
      const e = this.unconf[k];
      const st = t.status[e];
      if ((st & CT_LIVE) !== 0 && ((st & IPS_CONFIRMED) === 0 || (st & IPS_DYING) !== 0)) t.free(e);
    }
    this.nUnconf = 0;
  }

  /**
   * nf_ct_delete: out of the hash, timer off; the entry itself is freed by reclaim() at the end of
   * the dispatch, as the kernel frees it with the last skb holding it: a packet of this dispatch
   * may still name it (a RST that ends its connection is still NATed at POSTROUTING by its tuples,
   * a packet whose entry early drop took still leaves with its own binding). It stays CONFIRMED,
   * as in the kernel, so such a packet passes confirm.
   */
  kill(e: number): void {
    const t = this.table;
    const st = t.status[e];
    if ((st & CT_LIVE) === 0 || (st & IPS_DYING) !== 0) return;
    if ((st & IPS_CONFIRMED) === 0) {
      // Unconfirmed: reclaim() frees it at the end of the dispatch.
      t.status[e] = st | IPS_DYING;
      return;
    }
    t.unhash(e);
    this.wheel.cancel(e);
    if (this.nUnconf === UNCONFIRMED_MAX) {
      t.free(e);
      return;
    }
    t.status[e] = st | IPS_DYING;
    this.unconf[this.nUnconf++] = e;
  }

  /** `conntrack -F`: every confirmed entry. Returns how many. */
  flush(): number {
    const all: number[] = [];
    this.table.forEach((e) => all.push(e));
    for (const e of all) this.kill(e);
    return all.length;
  }

  /** Seconds until e expires (what `conntrack -L` prints). */
  remaining(e: number): number {
    return Math.max(0, Math.floor((this.table.expires[e] - this.clock[0]) / 1000));
  }

  /** Fire due expiry timers (the wheel also wakes itself unless made with wake: false). */
  advance(now: number): number {
    return this.wheel.advance(now);
  }

  // ---- internals ------------------------------------------------------------------------------

  private invalid(): number {
    this.stats[CT_INVALID]++;
    return NFCT_NONE;
  }

  /** Expire e `seconds` from now; the timer is moved only when it must fire earlier (timeouts mostly grow or stay). */
  private refresh(e: number, seconds: number): void {
    const t = this.table;
    const at = this.clock[0] + seconds * 1000;
    t.expires[e] = at;
    if (at < t.armed[e] && (t.status[e] & IPS_CONFIRMED) !== 0) {
      t.armed[e] = at;
      this.wheel.arm(e, at);
    }
  }

  /** The timer of e fired: expire it, or re-arm for its refreshed expiry. */
  private timeout(e: number): void {
    const t = this.table;
    if ((t.status[e] & IPS_CONFIRMED) === 0) return;
    const now = this.clock[0];
    if (t.expires[e] > now) {
      t.armed[e] = t.expires[e];
      this.wheel.arm(e, t.expires[e]);
      return;
    }
    t.unhash(e);
    t.free(e);
  }

  /** init_conntrack: an unconfirmed entry for a packet without one; -1 INVALID, NFCT_DROP full. */
  private create(u8: Uint8Array, dv: DataView, src: number, dst: number, ports: number, proto: number, l4: number, l4len: number): number {
    let rports = 0;
    if (proto === 1) {
      const type = (ports >>> 8) & 0xff;
      if (type > 18 || ICMP_VALID_NEW[type] === 0) return -1;
      rports = invertPorts(1, ports) | 0;
    } else if (proto === 6 || proto === 17) rports = (ports >>> 16) | (ports << 16);
    // Room for this entry and one early drop may kill (both wait on the list until reclaim()).
    if (this.nUnconf >= UNCONFIRMED_MAX - 1) return this.full();
    const t = this.table;
    const max = this.sysctl.nf_conntrack_max;
    let e = t.alloc(max);
    // The evicted entry is freed at the end of the dispatch (a packet of it may be in this one),
    // so the new one takes a slot beyond max until then, as the kernel lets its count pass
    // nf_conntrack_max while a dying entry is still held: at most UNCONFIRMED_MAX more slots.
    if (e < 0 && this.earlyDrop(src, dst, ports, proto)) e = t.alloc(max + UNCONFIRMED_MAX);
    if (e < 0) return this.full();
    const o = e * 8;
    t.tup[o] = src;
    t.tup[o + 1] = dst;
    t.tup[o + 2] = ports;
    t.tup[o + 3] = proto;
    t.tup[o + 4] = dst;
    t.tup[o + 5] = src;
    t.tup[o + 6] = rports;
    t.tup[o + 7] = proto;
    t.status[e] = CT_LIVE;
    t.mark[e] = 0;
    t.state[e] = 0;
    t.nat[e] = -1;
    const now = this.clock[0];
    t.start[e] = now;
    t.expires[e] = now;
    t.armed[e] = Infinity;
    this.unconf[this.nUnconf++] = e;
    if (proto === 6 && !tcpNew(t, e, u8, dv, l4, l4len, this.sysctl.nf_conntrack_tcp_loose)) return -1;
    return e;
  }

  /** early_drop: evict one unreplied (not ASSURED) confirmed entry near the new tuple's bucket. */
  private earlyDrop(src: number, dst: number, ports: number, proto: number): boolean {
    const t = this.table;
    const b0 = t.bucket(src, dst, ports, proto);
    for (let k = 0; k < EVICTION_RANGE; k++) {
      const b = (b0 + k) & (t.buckets - 1);
      for (let n = t.heads[b]; n >= 0; n = t.hnext[n]) {
        const e = n >> 1;
        if ((t.status[e] & (IPS_ASSURED | IPS_DYING)) !== 0) continue;
        this.kill(e);
        this.stats[CT_EARLY_DROP]++;
        return true;
      }
    }
    return false;
  }

  private full(): number {
    this.stats[CT_DROP]++;
    const now = this.clock[0];
    // net_ratelimit(): one line per 5 s is enough to say what is happening.
    if (now - this.lastFullLog >= 5000) {
      this.lastFullLog = now;
      this.log('nf_conntrack: nf_conntrack: table full, dropping packet');
    }
    return NFCT_DROP;
  }
}

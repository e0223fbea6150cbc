/**
 * `softnet trace FILTER`: where each matching packet goes, stage by stage (pwru for softnet's
 * graph). A Tracer is the graph's GraphTracer: the compiled tcpdump filter (wire/filter.ts) runs
 * once per packet at the receive entry (xdp / eth-input); each match then runs through the graph
 * alone (Graph.dispatchTraced), so every counter that moves during one of its stage runs is its
 * own: the drop reason, the MIB counters (Ip, Icmp, Udp, Tcp, Neigh), the netfilter rules it hit.
 * Per stage the record says where the packet went (the next stage's queue), what the stage
 * rewrote (MACs, TTL, addresses and ports: NAT, an ICMP error built in place) and, at the end,
 * its fate: transmitted on a port, delivered to a socket, held (ARP, reassembly) or dropped with
 * the reason. Untraced packets pay nothing beyond the filter; with no trace running, one test per
 * dispatch (Graph.tracer === null). Records are built here with ordinary objects: only traced
 * packets pay for them, and a bounded queue caps their number.
 */
import type { Batch } from '../core/batch.ts';
import type { Counters } from '../core/counters.ts';
import type { Graph, GraphTracer } from '../core/graph.ts';
import type { NetDevices } from '../core/netdev.ts';
import type { Netfilter } from '../ipv4/netfilter/netfilter.ts';
import type { SockInfo } from '../transport/types.ts';
import { formatIPv4, formatMac } from '../wire/addr.ts';
import { ETH_DST, ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_SRC, ETH_TYPE, macHi, macLo, VLAN_HLEN } from '../wire/ethernet.ts';
import { compileFilter, type FrameMatcher } from '../wire/filter.ts';
import { ARP_OP, ARP_SPA, ARP_TPA } from '../wire/arp.ts';
import { ICMP_CODE, ICMP_TYPE } from '../wire/icmp.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_PROTOCOL, IPV4_SADDR, IPV4_TOT_LEN, IPV4_TTL, IPV4_VIHL } from '../wire/ipv4.ts';
import { TCP_FLAGS } from '../wire/tcp.ts';
import { UDP_DEST, UDP_SOURCE } from '../wire/udp.ts';

/** One stage a traced packet crossed. */
export interface TraceStep {
  /** Microseconds since the packet entered the graph, in stage runs (the tracer's own work left out). */
  t: number;
  /** Microseconds this stage run took (with the tracer attached: an upper bound). */
  us: number;
  /** The stage (kernel name). */
  stage: string;
  /** `-> ip-forward`, `dropped: udp.RcvbufErrors`, `tx on p1 (veth1)`, `delivered to udp socket 0.0.0.0:5000`... */
  verdict: string;
  /** Header fields the stage changed: `ttl 64->63`, `eth dst ...`, `daddr 10.2.0.1->10.1.0.2`. */
  rewrites: string[];
  /** Counters that moved in this stage, `Group.Name` (netstat -s names), `+N` when more than one. */
  counters: string[];
  /** Netfilter rules the packet matched in this stage (iptables -S text). */
  rules: string[];
}

/** A traced packet. */
export interface TraceRecord {
  seq: number;
  /** Wall-clock time it entered the graph (ISO 8601). */
  time: string;
  /** Port it arrived on. */
  dev: string;
  /** tcpdump -n style one-liner of the frame as it arrived. */
  summary: string;
  steps: TraceStep[];
  /** Where it ended: the last step's verdict. */
  end: string;
}

/** What a tracer reads of the stack (Stack has it all). */
export interface TraceHost {
  readonly graph: Graph;
  readonly devs: NetDevices;
  readonly netfilter: Netfilter | null;
  /** The MIB counter groups by netstat -s name (Ip, Icmp, Udp, Tcp, TcpExt, Neigh...). */
  readonly mibs: readonly Counters[];
  sockets(): SockInfo[];
}

export interface TraceOptions {
  /** Stop selecting after this many packets (default: no limit). */
  count?: number;
  /** Finished records held before matches are counted as missed instead (default 1024). */
  maxQueued?: number;
}

/** Stages that run netfilter hooks: their rule counters are compared around them. */
const NF_STAGES = new Set(['ip-rcv', 'ip-local-deliver', 'ip-forward', 'ip-output', 'ip-local-out']);

export class Tracer implements GraphTracer {
  /** Finished records not yet taken (take()). */
  private queue: TraceRecord[] = [];
  /** Packets traced, and matches not traced because the queue of finished records was full. */
  traced = 0;
  missed = 0;
  private readonly match: FrameMatcher;
  private readonly isEntry: Uint8Array;
  private readonly maxQueued: number;
  private remaining: number;
  // The packet being traced: its record, its index in the batch, the stage run's snapshots.
  private rec: TraceRecord | null = null;
  private cur = -1;
  private elapsed = 0;
  private stepT = 0;
  private hdr0: Hdr | null = null;
  private drops0 = new Float64Array(0);
  /** Per MIB group, its values before the stage run (copied, not allocated, per run). */
  private readonly mib0: Float64Array[] = [];
  /** Per table worth comparing, its packet counters before the stage run (Netfilter.packetCounts). */
  private nf0: Float64Array[] | null = null;
  private nfTables: string[] = [];

  constructor(
    private readonly host: TraceHost,
    readonly filter: string,
    opts: TraceOptions = {},
  ) {
    const g = host.graph;
    this.match = compileFilter(filter).bind(g.pool.umem.u8, g.pool.umem.dv);
    this.isEntry = new Uint8Array(g.stages.length);
    for (const name of ['xdp', 'eth-input']) if (g.has(name)) this.isEntry[g.id(name)] = 1;
    this.maxQueued = opts.maxQueued ?? 1024;
    this.remaining = opts.count ?? Infinity;
    this.refreshRules();
  }

  /** The tables that have rules or a DROP policy (the ones worth comparing); call when rules change. */
  refreshRules(): void {
    const nf = this.host.netfilter;
    this.nfTables = [];
    if (nf === null) return;
    for (const t of ['raw', 'mangle', 'nat', 'filter']) {
      try {
        if (/^-A |^-P \S+ DROP/m.test(nf.exec(`-t ${t} -S`))) this.nfTables.push(t);
      } catch {
        /* no such table */
      }
    }
  }

  /** Everything finished since the last call. */
  take(): TraceRecord[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  get done(): boolean {
    return this.remaining <= 0;
  }

  // ---- GraphTracer ------------------------------------------------------------------------------

  select(b: Batch, n: number, entry: number, hit: Uint8Array): number {
    if (entry >= this.isEntry.length || this.isEntry[entry] === 0) return 0;
    const match = this.match;
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (!match(b.addr[i], b.len[i])) continue;
      if (this.remaining - c <= 0) continue; // --count reached: the trace is over, nothing missed
      if (this.queue.length + c >= this.maxQueued) {
        this.missed++;
        continue;
      }
      hit[i] = 1;
      c++;
    }
    return c;
  }

  begin(b: Batch, i: number): void {
    const g = this.host.graph;
    const u8 = g.pool.umem.u8;
    const dv = g.pool.umem.dv;
    this.cur = i;
    this.elapsed = 0;
    this.rec = {
      seq: ++this.traced,
      time: new Date().toISOString(),
      dev: this.host.devs.list[b.iif[i]]?.name ?? String(b.iif[i]),
      summary: summarize(u8, dv, b.addr[i], l3Of(dv, b, i), b.len[i]),
      steps: [],
      end: '',
    };
    this.remaining--;
  }

  before(b: Batch, s: number): void {
    const g = this.host.graph;
    const i = this.cur;
    this.hdr0 = i >= 0 ? readHdr(g.pool.umem.u8, g.pool.umem.dv, b.addr[i], l3Of(g.pool.umem.dv, b, i), b.len[i], b.l3[i] !== 0) : null;
    if (this.drops0.length !== g.drops.v.length) this.drops0 = new Float64Array(g.drops.v.length);
    this.drops0.set(g.drops.v);
    const mibs = this.host.mibs;
    for (let k = 0; k < mibs.length; k++) {
      if (this.mib0[k] === undefined || this.mib0[k].length !== mibs[k].v.length) this.mib0[k] = new Float64Array(mibs[k].v.length);
      this.mib0[k].set(mibs[k].v);
    }
    this.nf0 = NF_STAGES.has(g.stages[s].name) && this.nfTables.length > 0 ? this.nfCounters() : null;
    this.stepT = performance.now();
  }

  after(b: Batch, s: number): void {
    const us = (performance.now() - this.stepT) * 1000;
    const g = this.host.graph;
    const rec = this.rec!;
    const stage = g.stages[s].name;
    const u8 = g.pool.umem.u8;
    const dv = g.pool.umem.dv;
    const i = this.cur;
    // Where did it go: the queue that holds it, else dropped (a reason moved) or taken here.
    let next = -1;
    let other = -1;
    let others = 0;
    for (let q = 0; q < g.stages.length; q++) {
      for (let j = 0; j < g.queued(q); j++) {
        const x = g.queuedAt(q, j);
        if (x === i) next = q;
        else {
          if (other < 0) other = x;
          others++;
        }
      }
    }
    const reasons: string[] = [];
    const dv0 = this.drops0;
    for (let r = 0; r < g.drops.names.length; r++) if (g.drops.v[r] > (dv0[r] ?? 0)) reasons.push(g.drops.names[r]);
    const counters = diffCounters(this.host.mibs, this.mib0);
    const rules = this.nf0 !== null ? this.diffRules(this.nf0, this.nfCounters()) : [];
    let verdict: string;
    let rewrites: string[] = [];
    if (i < 0) verdict = `consumed by ${stage}`;
    else if (next >= 0) {
      verdict = `-> ${g.stages[next].name}`;
      if (this.hdr0 !== null) rewrites = diffHdr(this.hdr0, readHdr(u8, dv, b.addr[i], l3Of(dv, b, i), b.len[i], b.l3[i] !== 0));
    } else if (reasons.length > 0) {
      verdict = `dropped: ${reasons.join(', ')}${stage === 'udp-rcv' || stage === 'tcp-rcv' ? this.socketOf(stage, this.hdr0) : ''}`;
    } else {
      verdict = this.taken(stage, b, i);
    }
    if (others > 0) verdict += `  (+${others} new: ${others === 1 ? 'packet' : 'packets'})`;
    rec.steps.push({ t: this.elapsed, us, stage, verdict, rewrites, counters, rules });
    this.elapsed += us;
    // Follow what it became when it is gone but the stage made new packets (fragments).
    if (next < 0) this.cur = other;
  }

  end(): void {
    const rec = this.rec!;
    rec.end = rec.steps.length > 0 ? rec.steps[rec.steps.length - 1].verdict : 'nothing ran';
    this.queue.push(rec);
    this.rec = null;
    this.cur = -1;
  }

  // ---- helpers (traced packets only) ------------------------------------------------------------

  /** A packet that left every queue without a drop: what the stage does with the ones it keeps. */
  private taken(stage: string, b: Batch, i: number): string {
    switch (stage) {
      case 'dev-xmit': {
        const d = this.host.devs.list[b.oif[i]];
        return `tx on ${d ? `${d.name}${d.vlanId === 0 ? ` (${d.port.dev})` : ''}` : b.oif[i]}`;
      }
      case 'udp-rcv':
      case 'tcp-rcv':
        return `delivered to${this.socketOf(stage, this.hdr0)}`;
      case 'neigh-output':
        return `queued in neigh: waiting for ${formatIPv4(b.nh[i])} to resolve (ARP)`;
      case 'ip-rcv':
      case 'ip-local-deliver':
        return 'held for reassembly (ip_defrag)';
      default:
        return `consumed by ${stage}`;
    }
  }

  /** ` udp socket ADDR:PORT` that holds the packet's destination (ss -n form), or ''. */
  private socketOf(stage: string, h: Hdr | null): string {
    if (h === null || h.dport < 0) return '';
    const netid = stage === 'udp-rcv' ? 'udp' : 'tcp';
    const daddr = formatIPv4(h.daddr);
    const saddr = formatIPv4(h.saddr);
    const socks = this.host.sockets().filter((x) => x.netid === netid && x.localPort === h.dport && (x.localAddress === daddr || x.localAddress === '0.0.0.0'));
    const best =
      socks.find((x) => x.peerAddress === saddr && x.peerPort === h.sport) ?? socks.find((x) => x.localAddress === daddr && x.state !== 'LISTEN') ?? socks.find((x) => x.state === 'LISTEN') ?? socks[0];
    if (best === undefined) return '';
    return ` ${netid} socket ${best.localAddress}:${best.localPort}${best.peerPort ? ` peer ${best.peerAddress}:${best.peerPort}` : ''} (${best.state}, Recv-Q ${best.recvQ})`;
  }

  private nfCounters(): Float64Array[] {
    const nf = this.host.netfilter!;
    return this.nfTables.map((t) => nf.packetCounts(t));
  }

  /** The rules (iptables -S text, `-t T` unless filter) whose counters moved; text only for those. */
  private diffRules(a: Float64Array[], b: Float64Array[]): string[] {
    const out: string[] = [];
    for (let k = 0; k < this.nfTables.length; k++) {
      // Both taken around one synchronous stage run: the same rules, entry for entry.
      const x = a[k];
      const y = b[k];
      let lines: string[] | null = null;
      for (let j = 0; j < y.length; j++) {
        if (y[j] <= x[j]) continue;
        const t = this.nfTables[k];
        lines ??= this.host.netfilter!.exec(`-t ${t} -S`).split('\n');
        out.push(`${t === 'filter' ? '' : `-t ${t} `}${lines[j]}`);
      }
    }
    return out;
  }
}

// ---- headers ----------------------------------------------------------------------------------

interface Hdr {
  /** MACs as (hi u32, lo u16) pairs (wire/ethernet.ts macHi/macLo): formatted only when they changed. */
  dstHi: number;
  dstLo: number;
  srcHi: number;
  srcLo: number;
  type: number;
  ttl: number;
  proto: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  icmp: number;
}

/** L3 offset: the stages' once eth-input set it, else parsed here (one 802.1Q tag). */
function l3Of(dv: DataView, b: Batch, i: number): number {
  if (b.l3[i] !== 0) return b.l3[i];
  return b.len[i] >= ETH_HLEN && dv.getUint16(b.addr[i] + ETH_TYPE) === ETH_P_8021Q ? ETH_HLEN + VLAN_HLEN : ETH_HLEN;
}

function readHdr(u8: Uint8Array, dv: DataView, a: number, l3: number, len: number, parsed = false): Hdr {
  const h: Hdr = { dstHi: 0, dstLo: 0, srcHi: 0, srcLo: 0, type: -1, ttl: -1, proto: -1, saddr: 0, daddr: 0, sport: -1, dport: -1, icmp: -1 };
  if (len < ETH_HLEN) return h;
  h.dstHi = macHi(u8, a + ETH_DST);
  h.dstLo = macLo(u8, a + ETH_DST);
  h.srcHi = macHi(u8, a + ETH_SRC);
  h.srcLo = macLo(u8, a + ETH_SRC);
  h.type = dv.getUint16(a + l3 - 2);
  // A reply built in place (ICMP error, echo reply) has no Ethernet header until neigh-output
  // writes one: past eth-input the stages' L3 offset says where IPv4 is.
  if (h.type !== ETH_P_IP && parsed && len >= l3 + 20 && u8[a + l3] >> 4 === 4) h.type = ETH_P_IP;
  if (h.type !== ETH_P_IP || len < l3 + 20) return h;
  const ip = a + l3;
  h.ttl = u8[ip + IPV4_TTL];
  h.proto = u8[ip + IPV4_PROTOCOL];
  h.saddr = dv.getUint32(ip + IPV4_SADDR);
  h.daddr = dv.getUint32(ip + IPV4_DADDR);
  const l4 = l3 + ((u8[ip + IPV4_VIHL] & 15) << 2);
  if ((h.proto === IPPROTO_UDP || h.proto === IPPROTO_TCP) && len >= l4 + 4) {
    h.sport = dv.getUint16(a + l4 + UDP_SOURCE);
    h.dport = dv.getUint16(a + l4 + UDP_DEST);
  } else if (h.proto === IPPROTO_ICMP && len >= l4 + 2) h.icmp = (u8[a + l4 + ICMP_TYPE] << 8) | u8[a + l4 + ICMP_CODE];
  return h;
}

function mac(hi: number, lo: number): string {
  const b = [hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, lo >>> 8, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

const PROTO_NAMES: Record<number, string> = { [IPPROTO_ICMP]: 'icmp', [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp' };

function diffHdr(a: Hdr, b: Hdr): string[] {
  const out: string[] = [];
  // A cleared Ethernet header is a reply waiting for neigh-output to address it: not news.
  const cleared = (b.dstHi | b.dstLo | b.srcHi | b.srcLo) === 0;
  if (!cleared && (a.dstHi !== b.dstHi || a.dstLo !== b.dstLo)) out.push(`eth dst ${mac(a.dstHi, a.dstLo)}->${mac(b.dstHi, b.dstLo)}`);
  if (!cleared && (a.srcHi !== b.srcHi || a.srcLo !== b.srcLo)) out.push(`eth src ${mac(a.srcHi, a.srcLo)}->${mac(b.srcHi, b.srcLo)}`);
  if (a.type !== b.type || b.type !== ETH_P_IP) return out;
  if (a.proto !== b.proto) out.push(`proto ${PROTO_NAMES[a.proto] ?? a.proto}->${PROTO_NAMES[b.proto] ?? b.proto}`);
  if (a.saddr !== b.saddr) out.push(`saddr ${formatIPv4(a.saddr)}->${formatIPv4(b.saddr)}`);
  if (a.daddr !== b.daddr) out.push(`daddr ${formatIPv4(a.daddr)}->${formatIPv4(b.daddr)}`);
  if (a.ttl !== b.ttl) out.push(`ttl ${a.ttl}->${b.ttl}`);
  if (a.proto === b.proto && a.sport !== b.sport) out.push(`sport ${a.sport}->${b.sport}`);
  if (a.proto === b.proto && a.dport !== b.dport) out.push(`dport ${a.dport}->${b.dport}`);
  if (b.icmp >= 0 && a.icmp !== b.icmp) out.push(`icmp type ${b.icmp >> 8} code ${b.icmp & 255}`);
  return out;
}

/** tcpdump -n's one-liner, short: `IP 10.1.0.2.40000 > 10.1.0.1.5000: UDP, length 32`. */
export function summarize(u8: Uint8Array, dv: DataView, a: number, l3: number, len: number): string {
  if (len < ETH_HLEN) return `truncated frame, length ${len}`;
  const type = dv.getUint16(a + l3 - 2);
  if (type === ETH_P_ARP && len >= l3 + 28) {
    const op = dv.getUint16(a + l3 + ARP_OP);
    const spa = formatIPv4(dv.getUint32(a + l3 + ARP_SPA));
    const tpa = formatIPv4(dv.getUint32(a + l3 + ARP_TPA));
    return op === 1 ? `ARP, Request who-has ${tpa} tell ${spa}` : op === 2 ? `ARP, Reply ${spa} is-at ${formatMac(u8, a + l3 + 8)}` : `ARP, op ${op}`;
  }
  if (type !== ETH_P_IP || len < l3 + 20) return `ethertype 0x${type.toString(16).padStart(4, '0')}, length ${len}`;
  const h = readHdr(u8, dv, a, l3, len);
  const ip = a + l3;
  const tot = dv.getUint16(ip + IPV4_TOT_LEN);
  const l4 = l3 + ((u8[ip + IPV4_VIHL] & 15) << 2);
  const s = formatIPv4(h.saddr);
  const d = formatIPv4(h.daddr);
  if (h.proto === IPPROTO_UDP && h.sport >= 0) return `IP ${s}.${h.sport} > ${d}.${h.dport}: UDP, length ${Math.max(0, tot - (l4 - l3) - 8)}`;
  if (h.proto === IPPROTO_TCP && h.sport >= 0 && len > l4 + TCP_FLAGS) {
    const f = u8[a + l4 + TCP_FLAGS];
    const flags = ['F', 'S', 'R', 'P', '.', 'U', 'E', 'W'].filter((_, k) => f & (1 << k)).join('');
    return `IP ${s}.${h.sport} > ${d}.${h.dport}: Flags [${flags}], length ${Math.max(0, tot - (l4 - l3) - ((u8[a + l4 + 12] >> 4) << 2))}`;
  }
  if (h.proto === IPPROTO_ICMP && h.icmp >= 0) {
    const t = h.icmp >> 8;
    const c = h.icmp & 255;
    const name = t === 8 ? 'echo request' : t === 0 ? 'echo reply' : t === 3 ? `unreachable code ${c}` : t === 11 ? 'time exceeded' : `type ${t} code ${c}`;
    return `IP ${s} > ${d}: ICMP ${name}, length ${tot - (l4 - l3)}`;
  }
  return `IP ${s} > ${d}: ip-proto-${h.proto}, length ${tot}`;
}

// ---- counters ---------------------------------------------------------------------------------

function diffCounters(now: readonly Counters[], before: Float64Array[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < now.length; k++) {
    const c = now[k];
    for (let j = 0; j < c.names.length; j++) {
      const d = c.v[j] - (before[k]?.[j] ?? 0);
      if (d > 0) out.push(d === 1 ? `${c.group}.${c.names[j]}` : `${c.group}.${c.names[j]}+${d}`);
    }
  }
  return out;
}

/** Text of a record: a header line, then one line per stage (softnet trace's output). */
export function formatTrace(r: TraceRecord): string {
  const time = r.time.slice(11, 26).replace('Z', '');
  const lines = [`#${r.seq} ${time} ${r.dev} ${r.summary}`];
  const w = Math.max(...r.steps.map((s) => s.stage.length), 5);
  for (const s of r.steps) {
    let l = `  ${`+${s.t.toFixed(1)}us`.padStart(9)}  ${s.stage.padEnd(w)}  ${s.verdict}`;
    if (s.rewrites.length) l += `  ${s.rewrites.join(', ')}`;
    if (s.rules.length) l += `  rule: ${s.rules.join(' | ')}`;
    if (s.counters.length) l += `  [${s.counters.join(' ')}]`;
    lines.push(l);
  }
  return lines.join('\n') + '\n';
}

// A stack on memory ports for the TCP unit tests: crafted segments from a peer (10.1.0.2) in,
// sent segments out, parsed; a manual clock drives the timer wheel and TCP (no JS timers).
import { TimerWheel } from '../../src/core/timer-wheel.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import type { TcpSysctl } from '../../src/transport/tcp/sysctl.ts';
import { ETH_HLEN, ETH_P_IP, ethType } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { IP_DF, IPPROTO_TCP, IPV4_HLEN, IPV4_ID, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, ipTotLen } from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_CHECK, TcpOptions, tcpAckSeq, tcpCsumOk, tcpDport, tcpFlags, tcpHdrLen, tcpParseOptions, tcpSeq, tcpSport, tcpWindow } from '../../src/wire/tcp.ts';
import { ME, memoryStack, PEER_IP, PEER_MAC, type MemoryStack } from './memory-stack.ts';
import { pattern } from './rng.ts';

export { TCP_ACK as ACK, TCP_FIN as FIN, TCP_PSH as PSH, TCP_RST as RST, TCP_SYN as SYN } from '../../src/wire/tcp.ts';

export interface SegSpec {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  win?: number;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  /** [tsval, tsecr] */
  ts?: [number, number];
  sack?: Array<[number, number]>;
  payload?: Uint8Array | string | number;
  /** Raw option bytes instead of the ones above. */
  rawOpts?: number[];
  badCsum?: boolean;
  /** Data offset override (words). */
  doff?: number;
  src?: string;
  dst?: string;
}

/** A TCP segment from the peer to us, in an Ethernet frame, with a correct checksum (options in Linux's layout). */
export function tcpFrame(p: MemoryPort, s: SegSpec): Uint8Array {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload) : typeof s.payload === 'number' ? pattern(s.payload) : (s.payload ?? new Uint8Array(0));
  const f = buildFrame({
    dstMac: p.mac,
    srcMac: PEER_MAC,
    ip: { src: s.src ?? PEER_IP, dst: s.dst ?? ME, df: true },
    tcp: {
      sport: s.sport ?? 40000,
      dport: s.dport ?? 80,
      seq: s.seq ?? 1000,
      ack: s.ack ?? 0,
      flags: s.flags ?? TCP_ACK,
      window: s.win ?? 65535,
      mss: s.mss,
      wscale: s.wscale,
      sackOk: s.sackOk,
      ts: s.ts,
      sack: s.sack,
      options: s.rawOpts,
      doff: s.doff,
    },
    payload,
  });
  if (s.badCsum) f[ETH_HLEN + IPV4_HLEN + TCP_CHECK] ^= 0x55;
  return f;
}

/** A sent TCP segment, parsed. */
export interface Sent {
  src: number;
  dst: number;
  ipId: number;
  df: boolean;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  hlen: number;
  opts: TcpOptions;
  payload: Uint8Array;
  csumOk: boolean;
}

export function parseTcp(f: Uint8Array): Sent | null {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const h = ETH_HLEN;
  if (ethType(dv, 0) !== ETH_P_IP || ipProto(f, h) !== IPPROTO_TCP) return null;
  const ihl = ipIhl(f, h);
  const tot = ipTotLen(dv, h);
  const l4 = h + ihl;
  const segLen = tot - ihl;
  const hlen = tcpHdrLen(f, l4);
  const opts = new TcpOptions();
  tcpParseOptions(f, dv, l4, hlen, opts);
  const src = ipSaddr(dv, h);
  const dst = ipDaddr(dv, h);
  return {
    src,
    dst,
    ipId: dv.getUint16(h + IPV4_ID),
    df: (ipFragOff(dv, h) & IP_DF) !== 0,
    sport: tcpSport(dv, l4),
    dport: tcpDport(dv, l4),
    seq: tcpSeq(dv, l4),
    ack: tcpAckSeq(dv, l4),
    flags: tcpFlags(f, l4),
    win: tcpWindow(dv, l4),
    hlen,
    opts,
    payload: f.slice(l4 + hlen, h + tot),
    csumOk: tcpCsumOk(dv, l4, segLen, src, dst),
  };
}

export interface TcpLab extends MemoryStack {
  clock: Float64Array;
  wheel: TimerWheel;
  /** TCP segments p0 sent since the last call. */
  tx(): Promise<Sent[]>;
  /** Move the clock on by ms and fire what is due. */
  advance(ms: number): Promise<void>;
  seg(s: SegSpec): Uint8Array;
  mib(name: string): number;
  ext(name: string): number;
  drops(name: string): number;
}

export async function tcpLab(o: { sysctl?: Partial<TcpSysctl>; extra?: string } = {}): Promise<TcpLab> {
  const clock = new Float64Array([1_000_000]);
  const wheel = new TimerWheel({ now: () => clock[0], wake: false });
  const m = await memoryStack(
    `
name: t1
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}
${o.extra ?? ''}`,
    { timers: wheel, tcp: { clock, sysctl: o.sysctl } },
  );
  const { s, p0, settle } = m;
  return {
    ...m,
    clock,
    wheel,
    async tx() {
      await settle();
      return p0
        .takeTx()
        .map(parseTcp)
        .filter((x): x is Sent => x !== null);
    },
    async advance(ms) {
      clock[0] += ms;
      wheel.advance(clock[0]);
      await settle();
    },
    seg: (x) => tcpFrame(p0, x),
    mib: (n) => s.tcp.ctx.mib.tcp.get(n),
    ext: (n) => s.tcp.ctx.mib.ext.get(n),
    drops: (n) => s.graph.drops.get(n),
  };
}

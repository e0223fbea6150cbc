import type { Graph } from '../core/graph.ts';
import { TimerWheel } from '../core/timer-wheel.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import { LocalOut } from './local-out.ts';
import { SockMem } from './sock-mem.ts';
import { defaultTransportSysctl, transportSysctl, transportSysctlKey, type TransportSysctl } from './sysctl.ts';
import type { SockInfo, TransportProto } from './types.ts';
import { registerUdp, type Udp } from './udp.ts';
import { registerTcp, type Tcp, type TcpOptions } from './tcp/index.ts';

// What the stack and the public API (src/index.ts) take from this layer; its parts import each other directly.
export type { SockInfo } from './types.ts';
export type { Udp } from './udp.ts';
export { UdpSocket, UdpViews, type Datagram, type RemoteInfo, type UdpSocketOptions } from './udp-socket.ts';
export { TcpServer, TcpSocket, TcpViews, type Tcp, type TcpConnectOptions, type TcpInfo, type TcpServerOptions, type TcpSocketOptions } from './tcp/index.ts';

export interface TransportOptions {
  /** net.core/net.ipv4 transport sysctls at creation (sysctl.ts). */
  sysctl?: Partial<TransportSysctl>;
  /** Packets the ip-local-out ring holds before sends are refused (ENOBUFS). Default 1024. */
  localOutSize?: number;
  /** The stack's protocol timer wheel (TCP's timers); a private one when not given. */
  timers?: TimerWheel;
  /** TCP: net.ipv4.tcp_* sysctls, a clock for tests. */
  tcp?: TcpOptions;
}

/**
 * The transport layer of one stack (inet_init's part after IPv4): what UDP and TCP share — the
 * sysctls, the socket frame budget (SockMem), the ip-local-out ring — and the protocols
 * themselves, each a TransportProto that the stack asks for ss rows, MIBs, held frames.
 */
export class Transport {
  readonly sysctl: TransportSysctl;
  readonly mem: SockMem;
  readonly out: LocalOut;
  readonly protos: TransportProto[] = [];
  /** UDP (set by registerTransport). */
  udp!: Udp;
  /** TCP (set by registerTransport). */
  tcp!: Tcp;

  constructor(
    readonly graph: Graph,
    readonly ipv4: Ipv4,
    opts: TransportOptions = {},
  ) {
    const pool = graph.pool;
    this.sysctl = { ...defaultTransportSysctl(pool.total), ...opts.sysctl };
    this.mem = new SockMem(this.sysctl, pool.umem.frameSize);
    this.out = new LocalOut(graph, ipv4, opts.localOutSize ?? Math.min(1024, Math.max(16, pool.total >>> 2)));
  }

  /** Register a protocol (ss rows, MIB, frames, timers, shutdown). */
  add(p: TransportProto): void {
    if (this.protos.some((x) => x.name === p.name)) throw new Error(`transport: ${p.name} is registered already`);
    this.protos.push(p);
  }

  /** Every socket of every protocol (`ss`). */
  sockets(): SockInfo[] {
    return this.protos.flatMap((p) => p.sockets());
  }

  /** The protocols' MIB groups (`Udp`, `Tcp`, ...). */
  mib(): Record<string, Record<string, number>> {
    return Object.assign({}, ...this.protos.map((p) => p.mib()));
  }

  /** Frames the transport holds: socket queues and the ip-local-out ring. */
  held(): number {
    let n = this.out.pending;
    for (const p of this.protos) n += p.held();
    return n;
  }

  /** Is `name` a transport sysctl (rmem_max, net.core.rmem_default, net.ipv4.ip_local_port_range...)? */
  hasSysctl(name: string): boolean {
    return transportSysctlKey(name) !== null || (this.tcp !== undefined && this.tcp.hasSysctl(name));
  }

  /** Read, or set then read, a transport sysctl by its Linux name. */
  setSysctl(name: string, value?: number | string): number | string {
    const k = transportSysctlKey(name);
    if (k === null && this.tcp !== undefined && this.tcp.hasSysctl(name)) return this.tcp.sysctl(name, value);
    if (k === null) throw new Error(`sysctl: unknown transport key ${name}`);
    return transportSysctl(this.sysctl, k, value);
  }

  tick(now: number): void {
    for (const p of this.protos) p.tick?.(now);
    this.out.drain();
  }

  /** Close every socket and free every frame held (shutdown). */
  close(): void {
    for (const p of this.protos) p.close();
    this.out.clear();
  }
}

/**
 * Add the transport stages to the graph: `ip-local-out` (the ring sockets send through) and the
 * protocols' receive stages (`udp-rcv`, later `tcp-rcv`), which ip-local-deliver finds by name
 * when the graph is sealed (inet_add_protocol). So a UDP datagram for a closed port is answered
 * with ICMP port unreachable by udp-rcv, where an IPv4-only graph answers protocol unreachable.
 */
export function registerTransport(g: Graph, ipv4: Ipv4, opts: TransportOptions = {}): Transport {
  const t = new Transport(g, ipv4, opts);
  g.add(t.out);
  t.udp = registerUdp(g, ipv4, t.sysctl, t.mem, t.out);
  t.add(t.udp);
  t.tcp = registerTcp(g, ipv4, t.sysctl, t.mem, t.out, opts.timers ?? new TimerWheel(), opts.tcp);
  t.add(t.tcp);
  return t;
}

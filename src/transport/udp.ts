import type { Graph } from '../core/graph.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import type { LocalOut } from './local-out.ts';
import type { SockMem } from './sock-mem.ts';
import type { TransportSysctl } from './sysctl.ts';
import type { SockInfo, TransportProto } from './types.ts';
import { IPPROTO_UDP } from '../wire/ipv4.ts';
import { udpErrHandler } from './udp-err.ts';
import { UdpRcv } from './udp-rcv.ts';
import { UdpSocket, type RemoteInfo, type UdpSocketOptions } from './udp-socket.ts';
import { UdpState } from './udp-state.ts';

/**
 * The UDP layer of a stack (udp.c's udp_prot + udp4_lib): `stack.udp`. Creates sockets
 * (node:dgram's createSocket), owns the table and the `udp-rcv` stage, and answers the stack's
 * questions (ss rows, the Udp MIB, frames held, shutdown).
 */
export class Udp implements TransportProto {
  readonly name = 'udp';
  readonly st: UdpState;
  readonly rcv: UdpRcv;

  constructor(ipv4: Ipv4, sysctl: TransportSysctl, mem: SockMem, out: LocalOut) {
    this.st = new UdpState(ipv4, sysctl, mem, out);
    this.rcv = new UdpRcv(this.st);
  }

  /** dgram.createSocket('udp4' | options[, onMessage]). */
  createSocket(opts: UdpSocketOptions | 'udp4' = {}, onMessage?: (msg: Buffer, rinfo: RemoteInfo) => void): UdpSocket {
    const s = new UdpSocket(this.st, typeof opts === 'string' ? { type: opts } : opts);
    if (onMessage) s.on('message', onMessage);
    return s;
  }

  /** The Udp MIB counters (ids in udp-mib.ts UDP). */
  get counters() {
    return this.st.counters;
  }

  mib(): Record<string, Record<string, number>> {
    return { Udp: this.st.counters.toJSON() };
  }

  sockets(): SockInfo[] {
    const out: SockInfo[] = [];
    for (const s of this.st.socks) if (s !== null && s.bound) out.push(s.info());
    return out;
  }

  held(): number {
    let n = 0;
    for (const s of this.st.socks) if (s !== null) n += s.q.held;
    return n;
  }

  close(): void {
    for (const s of this.st.socks) s?.close();
  }
}

/**
 * Add `udp-rcv` to the graph (ip-local-deliver delivers IP protocol 17 to it by name) and UDP's
 * ICMP error handler to icmp-rcv.
 */
export function registerUdp(g: Graph, ipv4: Ipv4, sysctl: TransportSysctl, mem: SockMem, out: LocalOut): Udp {
  const u = new Udp(ipv4, sysctl, mem, out);
  g.add(u.rcv);
  ipv4.icmpRcv.setErrHandler(IPPROTO_UDP, udpErrHandler(u.st));
  return u;
}

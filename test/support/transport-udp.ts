// A stack on memory ports for the UDP unit tests: crafted frames in, sent frames out, the event
// loop driven by hand (inject, poll, let the socket notifications and the ip-local-out ring run).
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { ETH_ALEN, ETH_DST, ETH_HLEN, ethType } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import { icmpCode, icmpType } from '../../src/wire/icmp.ts';
import { IPV4_ID, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, ipTotLen, ipTtl } from '../../src/wire/ipv4.ts';
import { UDP_HLEN, udpCheck, udpDport, udpLen, udpSport } from '../../src/wire/udp.ts';
import { ME, memoryStack, PEER_IP, PEER_MAC, type MemoryStack } from './memory-stack.ts';

export interface UdpLab extends MemoryStack {
  /** Frames p0 transmitted since the last call (after the ip-local-out ring drained). */
  tx(): Promise<Uint8Array[]>;
  /** A UDP datagram from the peer (or src) to us. */
  udp(o: { sport?: number; dport: number; payload?: Uint8Array | number | string; src?: string; dst?: string; csum?: boolean; ip?: FrameSpec['ip']; dstMac?: string }): Uint8Array;
}

/** p0 10.1.0.1/24 (the peer 10.1.0.2 on it), p1 10.2.0.1/24 mtu 1000 (10.2.0.2 on it), then `extra` config lines. */
export async function udpLab(extra = '', stackOpts: Parameters<typeof memoryStack>[1] = {}): Promise<UdpLab> {
  const m = await memoryStack(
    `
name: u1
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}
  - {name: p1, dev: mem1, mode: memory, addresses: [10.2.0.1/24], mtu: 1000}
${extra}`,
    stackOpts,
  );
  m.s.l2.neigh.addPermanent(1, parseIPv4('10.2.0.2'), parseMac('02:00:00:00:00:98'));
  return {
    ...m,
    async tx() {
      await m.settle();
      return m.p0.takeTx();
    },
    udp(o) {
      const payload = typeof o.payload === 'string' ? Buffer.from(o.payload) : o.payload;
      return buildFrame({
        dstMac: o.dstMac ?? m.p0.mac,
        srcMac: PEER_MAC,
        ip: { src: o.src ?? PEER_IP, dst: o.dst ?? ME, ...o.ip },
        udp: { sport: o.sport ?? 40000, dport: o.dport, csum: o.csum ?? true },
        payload,
      });
    },
  };
}

/** What a sent frame is: IP addresses, protocol, UDP ports and payload, ICMP type/code. */
export function parseSent(f: Uint8Array) {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const h = ETH_HLEN;
  const l4 = h + ipIhl(f, h);
  const totLen = ipTotLen(dv, h);
  return {
    ethType: ethType(dv, 0),
    dstMac: [...f.subarray(ETH_DST, ETH_DST + ETH_ALEN)],
    src: ipSaddr(dv, h),
    dst: ipDaddr(dv, h),
    proto: ipProto(f, h),
    ttl: ipTtl(f, h),
    id: dv.getUint16(h + IPV4_ID),
    fragOff: ipFragOff(dv, h),
    totLen,
    sport: udpSport(dv, l4),
    dport: udpDport(dv, l4),
    ulen: udpLen(dv, l4),
    ucheck: udpCheck(dv, l4),
    icmpType: icmpType(f, l4),
    icmpCode: icmpCode(f, l4),
    l4,
    payload: f.subarray(l4 + UDP_HLEN, h + totLen),
  };
}

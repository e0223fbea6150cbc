// A stack on memory ports for the UDP unit tests: crafted frames in, sent frames out, the event
// loop driven by hand (inject, poll, let the socket notifications and the ip-local-out ring run).
import { parseConfig } from '../../src/config/load.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { Stack } from '../../src/stack/stack.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { ETH_ALEN, ETH_DST, ETH_HLEN, ethType } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import { icmpCode, icmpType } from '../../src/wire/icmp.ts';
import { IPV4_ID, ipDaddr, ipFragOff, ipIhl, ipProto, ipSaddr, ipTotLen, ipTtl } from '../../src/wire/ipv4.ts';
import { UDP_HLEN, udpCheck, udpDport, udpLen, udpSport } from '../../src/wire/udp.ts';

/** The kernel-host peer on p0's link. */
export const PEER_IP = '10.1.0.2';
export const PEER_MAC = '02:00:00:00:00:99';
export const ME = '10.1.0.1';

export interface UdpLab {
  s: Stack;
  p0: MemoryPort;
  /** Inject frames on p0, poll them through the graph, run the notifications (microtasks). */
  rx(...frames: Uint8Array[]): Promise<void>;
  /** Frames p0 transmitted since the last call (after the ip-local-out ring drained). */
  tx(): Promise<Uint8Array[]>;
  /** A UDP datagram from the peer (or src) to us. */
  udp(o: { sport?: number; dport: number; payload?: Uint8Array | number | string; src?: string; dst?: string; csum?: boolean; ip?: FrameSpec['ip']; dstMac?: string }): Uint8Array;
  stop(): Promise<void>;
}

export async function udpLab(extra = '', stackOpts: Partial<ConstructorParameters<typeof Stack>[0]> = {}): Promise<UdpLab> {
  const cfg = parseConfig(`
name: u1
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}
  - {name: p1, dev: mem1, mode: memory, addresses: [10.2.0.1/24], mtu: 1000}
${extra}`);
  const s = await Stack.fromConfig(cfg, { control: null, ...stackOpts });
  await s.start();
  const p0 = s.port('p0') as MemoryPort;
  const peer = parseMac(PEER_MAC);
  s.l2.neigh.addPermanent(0, parseIPv4(PEER_IP), peer);
  s.l2.neigh.addPermanent(1, parseIPv4('10.2.0.2'), parseMac('02:00:00:00:00:98'));
  const settle = async () => {
    for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
  };
  return {
    s,
    p0,
    async rx(...frames) {
      for (const f of frames) if (!p0.inject(f)) throw new Error('memory port RX ring full');
      while (p0.pending() > 0) s.napi.kick();
      await settle();
    },
    async tx() {
      await settle();
      return p0.takeTx();
    },
    udp(o) {
      const payload = typeof o.payload === 'string' ? Buffer.from(o.payload) : o.payload;
      return buildFrame({
        dstMac: o.dstMac ?? p0.mac,
        srcMac: peer,
        ip: { src: o.src ?? PEER_IP, dst: o.dst ?? ME, ...o.ip },
        udp: { sport: o.sport ?? 40000, dport: o.dport, csum: o.csum ?? true },
        payload,
      });
    },
    async stop() {
      const acct = await s.stop();
      if (acct.lost !== 0 || acct.free !== acct.total) throw new Error(`frames not accounted for at stop: ${JSON.stringify(acct)}`);
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

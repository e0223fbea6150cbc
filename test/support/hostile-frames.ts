// Hostile frames for stack-hostile.test.ts: a seeded generator (the same seed gives the same bytes,
// so softnet and the Linux router see exactly the same burst) and a sender that pushes a file of
// frames out of a device from a namespace (python3 AF_PACKET, as root).
//
// What A (10.1.0.2, behind the router's 10.1.0.1) sends: ARP from many and spoofed senders (on and
// off the subnet, claiming the router's and B's address, broadcast/multicast/zero/loopback sender
// IPs and MACs, gratuitous requests and replies), IPv4 ICMP/UDP/TCP to the router and to every
// host behind it, never-completed fragments, VLAN and QinQ tags, and bit-flipped, truncated,
// extended and pure-garbage versions of all of it. One thing is left out on purpose: ARP that
// claims A's own address with another MAC. ARP has no authentication; Linux and softnet both
// believe such a request (that is what ARP is), so it measures nothing about softnet.
import { writeFileSync } from 'node:fs';
import { nsExec } from '../../src/tools/lab.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { ARP_SPA, ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { ETH_DATA_LEN, ETH_DST, ETH_HLEN, ETH_P_ARP, ETH_P_IPV6, ETH_TYPE, ETH_ZLEN, VLAN_HLEN, isVlanType } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import {
  ICMP_CODE,
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  ICMP_PARAMETERPROB,
  ICMP_REDIRECT,
  ICMP_TIME_EXCEEDED,
  ICMP_TIMESTAMP,
  ICMP_UN,
  writeIcmpHeader,
} from '../../src/wire/icmp.ts';
import { IP_DF, IP_MF, IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_HLEN, ipSendCheck } from '../../src/wire/ipv4.ts';
import { TCP_DOFF, TCP_HLEN } from '../../src/wire/tcp.ts';
import { UDP_HLEN, udpDport, udpSport, writeUdpHeader } from '../../src/wire/udp.ts';

export interface HostileAddrs {
  /** The router's MAC and address on A's side, A's MAC and address, B's address. */
  routerMac: string;
  routerIp: string;
  aMac: string;
  aIp: string;
  bIp: string;
  /** Prefix length of B's subnet: forwarded frames go to every address in it. */
  bPrefix: number;
}

/** mulberry32: a small seeded PRNG; uniform u32. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const mac2b = (s: string) => [...parseMac(s)];
/** What a veth with MTU 1500 carries. */
const MAX_FRAME = ETH_HLEN + ETH_DATA_LEN;

function view(f: Uint8Array): DataView {
  return new DataView(f.buffer, f.byteOffset, f.byteLength);
}

/**
 * `count` hostile frames from A. Every frame is 14..1514 bytes (what a veth with MTU 1500 carries).
 */
export function hostileFrames(seed: number, count: number, a: HostileAddrs): Uint8Array[] {
  const r = prng(seed);
  const pick = (n: number) => r() % n;
  const RM = mac2b(a.routerMac);
  const AM = mac2b(a.aMac);
  const RIP = parseIPv4(a.routerIp);
  const AIP = parseIPv4(a.aIp);
  const BIP = parseIPv4(a.bIp);
  const aNet = (AIP & 0xffffff00) >>> 0;
  const bMask = (0xffffffff << (32 - a.bPrefix)) >>> 0;
  const bNet = (BIP & bMask) >>> 0;
  // Any host of B's subnet but the network and broadcast addresses.
  const behind = () => (bNet | (1 + (r() % ((~bMask >>> 0) - 1)))) >>> 0;
  const randMac = (): number[] => {
    const m = [r() & 0xfe, r() & 255, r() & 255, r() & 255, r() & 255, r() & 255];
    if (m[0] + m[1] + m[2] + m[3] + m[4] + m[5] === 0) m[5] = 1;
    return m;
  };
  // A host on A's subnet that is neither A nor the router nor the broadcast/network address.
  const onLink = () => (aNet | (3 + pick(251))) >>> 0;

  // The PRNG draws happen in argument order: every call below keeps the order the burst was
  // measured with (the same seed gives the same bytes).
  function frame(dst: number[], src: number[], s: FrameSpec): Uint8Array {
    return buildFrame({ dstMac: dst, srcMac: src, ...s });
  }

  function arp(op: number, sha: number[], spa: number, tha: number[], tpa: number): FrameSpec {
    return { arp: { op, sha, spa, tha, tpa } };
  }

  /** IPv4 around `l4` (DF unless `ff`, a flags|offset word, says otherwise); a random id is drawn last. */
  function ipv4(src: number, dst: number, proto: number, l4: Uint8Array, o: { ff?: number; id?: number; ttl?: number; opts?: number[] } = {}): FrameSpec {
    const id = o.id ?? r() & 0xffff;
    const ff = o.ff ?? IP_DF;
    return { ip: { src, dst, proto, id, ttl: o.ttl, options: o.opts, df: (ff & IP_DF) !== 0, mf: (ff & IP_MF) !== 0, fragOff: (ff & IP_OFFSET) * 8 }, payload: l4 };
  }

  /** Random L4 bytes with a header that holds together: ICMP type and checksum, UDP length, TCP data offset. */
  function l4(proto: number, n: number): Uint8Array {
    const hl = proto === IPPROTO_TCP ? TCP_HLEN : proto === IPPROTO_UDP ? UDP_HLEN : ICMP_HLEN;
    const p = new Uint8Array(hl + n);
    const dv = view(p);
    for (let i = 0; i < p.length; i++) p[i] = r() & 255;
    if (proto === IPPROTO_ICMP) {
      const type = [ICMP_ECHOREPLY, ICMP_DEST_UNREACH, ICMP_REDIRECT, ICMP_ECHO, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB, ICMP_TIMESTAMP, 255][pick(8)];
      writeIcmpHeader(dv, 0, type, p[ICMP_CODE], dv.getUint32(ICMP_UN), p.length);
    } else if (proto === IPPROTO_UDP) {
      writeUdpHeader(dv, 0, udpSport(dv, 0), udpDport(dv, 0), p.length, 0, 0, false);
    } else if (proto === IPPROTO_TCP) {
      p[TCP_DOFF] = (TCP_HLEN >>> 2) << 4;
    }
    return p;
  }

  const specialIps = [0, 0xffffffff, 0xe0000001, 0xe00000fb, 0x7f000001, (aNet | 255) >>> 0, aNet, RIP, BIP, 0xefffffff];
  const specialMacs = [
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    [0, 0, 0, 0, 0, 0],
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
    [0x33, 0x33, 0, 0, 0, 1],
    RM,
  ];
  const dstMac = () => {
    const k = pick(10);
    return k < 7 ? RM : k === 7 ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : k === 8 ? randMac() : [0x01, 0x00, 0x5e, 0, 0, pick(256)];
  };
  const bcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const zero6 = [0, 0, 0, 0, 0, 0];

  /** A well-formed frame of some kind (before mutation). */
  function base(): Uint8Array {
    const k = pick(16);
    switch (k) {
      case 0: // request for the router from many on-link senders
        return frame(bcast, randMac(), arp(ARPOP_REQUEST, randMac(), onLink(), zero6, RIP));
      case 1: {
        // request for the router from off-link senders (anywhere, B's subnet included)
        const sip = pick(2) === 0 ? behind() : r() >>> 0;
        return frame(bcast, randMac(), arp(ARPOP_REQUEST, randMac(), sip, zero6, RIP));
      }
      case 2: {
        // unsolicited replies to the router (not gratuitous)
        const sha = randMac();
        return frame(RM, sha, arp(ARPOP_REPLY, sha, onLink(), RM, RIP));
      }
      case 3: {
        // gratuitous request / reply (sender = target), on-link and off-link
        const sha = randMac();
        const ip = pick(2) === 0 ? onLink() : r() >>> 0;
        return frame(bcast, sha, arp(1 + pick(2), sha, ip, pick(2) === 0 ? sha : bcast, ip));
      }
      case 4: {
        // someone claims the router's address or B's address
        const sha = randMac();
        const ip = pick(2) === 0 ? RIP : BIP;
        return frame(pick(2) === 0 ? bcast : RM, sha, arp(1 + pick(2), sha, ip, zero6, pick(2) === 0 ? RIP : ip));
      }
      case 5: {
        // special sender IPs (zero, broadcast, multicast, loopback, subnet broadcast) or MACs
        const sip = pick(2) === 0 ? specialIps[pick(specialIps.length)] : onLink();
        const sha = pick(2) === 0 ? specialMacs[pick(specialMacs.length)] : randMac();
        return frame(dstMac(), randMac(), arp(1 + pick(2), sha, sip, zero6, pick(4) === 0 ? specialIps[pick(specialIps.length)] : RIP));
      }
      case 6:
      case 7: {
        // IPv4 to every host behind the router and next to A (forwarded: the router must resolve)
        const proto = [IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP][pick(3)];
        const dst = pick(3) === 0 ? onLink() : behind();
        return frame(RM, AM, ipv4(pick(2) === 0 ? AIP : r() >>> 0, dst, proto, l4(proto, pick(64))));
      }
      case 8: {
        // IPv4 to the router itself (local delivery, ICMP errors back); GRE and 99 carry UDP-shaped bytes
        const proto = [IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, 47, 99][pick(5)];
        return frame(RM, AM, ipv4(pick(2) === 0 ? AIP : r() >>> 0, RIP, proto, l4(proto === 47 || proto === 99 ? IPPROTO_UDP : proto, pick(64))));
      }
      case 9:
      case 10: {
        // never-completed fragments: to the router (reassembly) and through it, many ids/sources
        const dst = pick(2) === 0 ? RIP : behind();
        const off = pick(4) === 0 ? 0 : 1 + pick(180);
        const mf = pick(4) === 0 ? 0 : IP_MF;
        const data = l4(IPPROTO_UDP, 8 * (1 + pick(100)));
        return frame(RM, AM, ipv4(pick(2) === 0 ? AIP : onLink(), dst, IPPROTO_UDP, data, { ff: mf | off }));
      }
      case 11: {
        // TTL 0/1 and IP options (time exceeded, parameter problem)
        const opts = [[1, 1, 1, 0], [7, 7, 4, 0, 0, 0, 0, 0], [0x44, 8, 5, 0, 0, 0, 0, 0], [0x83, 3, 4, 0], [0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]][pick(5)];
        return frame(RM, AM, ipv4(AIP, behind(), IPPROTO_UDP, l4(IPPROTO_UDP, 16), { ttl: pick(3), opts }));
      }
      case 12: {
        // VLAN / QinQ around ARP or IPv4
        const inner = pick(2) === 0 ? arp(ARPOP_REQUEST, randMac(), onLink(), zero6, RIP) : ipv4(AIP, BIP, IPPROTO_ICMP, l4(IPPROTO_ICMP, 16));
        // One 802.1Q tag (priority bits and VID), or an 802.1ad tag around an 802.1Q one.
        const tags = pick(2) === 0 ? { vlan: (pick(16) << 8) | pick(256) } : { qinq: pick(256), vlan: pick(256) };
        return frame(dstMac(), AM, { ...inner, ...tags });
      }
      case 13: {
        // other EtherTypes and an 802.3 length field
        const t = [ETH_P_IPV6, 0x88cc, 0x0805, 0x0000, 0x05dc, 0x8035, 0xffff][pick(7)];
        const p = new Uint8Array(pick(200));
        for (let i = 0; i < p.length; i++) p[i] = r() & 255;
        return frame(dstMac(), AM, { type: t, payload: p });
      }
      default: {
        // garbage of any length
        const f = new Uint8Array(ETH_HLEN + pick(ETH_DATA_LEN + 1));
        for (let i = 0; i < f.length; i++) f[i] = r() & 255;
        if (pick(2) === 0) f.set(RM, ETH_DST);
        return f;
      }
    }
  }

  function mutate(f: Uint8Array): Uint8Array {
    const k = pick(8);
    if (k <= 2) {
      // bit flips, biased to the headers (from the EtherType on)
      const g = f.slice();
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) {
        const at = pick(4) === 0 ? pick(g.length) : Math.min(g.length - 1, ETH_TYPE + pick(48));
        g[at] ^= 1 << pick(8);
      }
      return g;
    }
    if (k === 3) return f.slice(0, ETH_HLEN + pick(Math.max(1, f.length - ETH_HLEN + 1))); // truncated
    if (k === 4) {
      // extended with garbage
      const extra = pick(Math.max(1, MAX_FRAME - f.length + 1));
      const g = new Uint8Array(Math.min(MAX_FRAME, f.length + extra));
      g.set(f);
      for (let i = f.length; i < g.length; i++) g[i] = r() & 255;
      return g;
    }
    if (k === 5) {
      // a random 16-bit field overwritten (lengths, checksums, types)
      const g = f.slice();
      const at = ETH_TYPE + pick(Math.max(1, g.length - ETH_TYPE - 1));
      g[at] = r() & 255;
      if (at + 1 < g.length) g[at + 1] = r() & 255;
      return g;
    }
    return f; // as is
  }

  const claimsA = (f: Uint8Array): boolean => {
    // ARP (plain or behind one/two tags) whose sender address is A's own address.
    const dv = view(f);
    let t = ETH_TYPE;
    for (let d = 0; d < 2 && t + 2 <= f.length && dv.getUint16(t) !== ETH_P_ARP; d++) {
      if (!isVlanType(dv.getUint16(t))) return false;
      t += VLAN_HLEN;
    }
    const s = t + 2 + ARP_SPA;
    return s + 4 <= f.length && dv.getUint32(s) === AIP;
  };

  const out: Uint8Array[] = [];
  while (out.length < count) {
    const f = mutate(base());
    if (f.length < ETH_HLEN || f.length > MAX_FRAME || (claimsA(f) && process.env.SN_HOSTILE_SPOOF_A !== "1")) continue;
    out.push(f);
  }
  return out;
}

/** Write frames as [u16 big-endian length][bytes]... for sendFrameFile. */
export function writeFrameFile(path: string, frames: Uint8Array[]): void {
  let n = 0;
  for (const f of frames) n += 2 + f.length;
  const buf = Buffer.alloc(n);
  let o = 0;
  for (const f of frames) {
    buf.writeUInt16BE(f.length, o);
    buf.set(f, o + 2);
    o += 2 + f.length;
  }
  writeFileSync(path, buf);
}

const SEND_PY = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
data = open(sys.argv[2], 'rb').read()
o = 0; n = 0; err = 0
while o < len(data):
    l = (data[o] << 8) | data[o + 1]
    f = data[o + 2:o + 2 + l]
    o += 2 + l
    while True:
        try:
            s.send(f); n += 1; break
        except BlockingIOError: time.sleep(0.0005)
        except OSError as e:
            if e.errno in (105, 11): time.sleep(0.0005); continue
            err += 1; break
print(n, err)
`;

/** Send every frame of `path` out of `dev` in `ns`. Returns frames sent and frames refused by the kernel. */
export async function sendFrameFile(ns: string, dev: string, path: string): Promise<{ sent: number; refused: number }> {
  const r = await nsExec(ns, ['python3', '-c', SEND_PY, dev, path], { check: true, timeoutMs: 120_000 });
  const [sent, refused] = r.stdout.trim().split(' ').map(Number);
  return { sent, refused };
}

/**
 * The control for hostileFrames: `count` well-formed UDP datagrams A -> B of the same sizes, so a
 * router's loss under the hostile burst can be told apart from its loss under the same load.
 */
export function benignFrames(seed: number, count: number, a: HostileAddrs, sizes: number[]): Uint8Array[] {
  const r = prng(seed ^ 0x5bd1e995);
  const RM = mac2b(a.routerMac);
  const AM = mac2b(a.aMac);
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const size = Math.max(ETH_HLEN + IPV4_HLEN + UDP_HLEN, Math.min(MAX_FRAME, sizes[k % sizes.length]));
    const sport = 1024 + (r() % 60000);
    // To port 9999, no UDP checksum.
    out.push(buildFrame({ dstMac: RM, srcMac: AM, ip: { src: a.aIp, dst: a.bIp, id: k & 0xffff, df: true }, udp: { sport, dport: 9999 }, size }));
  }
  return out;
}

/**
 * A subnet scan: `count` well-formed UDP datagrams from A to random hosts of B's subnet (a worm,
 * a port scanner). Every new destination costs the router a neighbour entry (INCOMPLETE, queued
 * packets, ARP requests): the attack on the neighbour table's size.
 */
export function scanFrames(seed: number, count: number, a: HostileAddrs): Uint8Array[] {
  const r = prng(seed ^ 0x2545f491);
  const BIP = parseIPv4(a.bIp);
  const hostBits = (0xffffffff >>> a.bPrefix) >>> 0;
  const bNet = (BIP & ~hostBits) >>> 0;
  const base = benignFrames(seed, 1, a, [ETH_ZLEN])[0];
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const f = base.slice();
    const dv = view(f);
    dv.setUint32(ETH_HLEN + IPV4_DADDR, (bNet | (1 + (r() % (hostBits - 1)))) >>> 0);
    ipSendCheck(dv, ETH_HLEN);
    out.push(f);
  }
  return out;
}

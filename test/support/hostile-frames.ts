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

const ip2n = (s: string) => s.split('.').reduce((x, o) => x * 256 + Number(o), 0) >>> 0;
const mac2b = (s: string) => s.split(':').map((x) => parseInt(x, 16));

function csum(b: Uint8Array, off: number, len: number, init = 0): number {
  let s = init;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * `count` hostile frames from A. Every frame is 14..1514 bytes (what a veth with MTU 1500 carries).
 */
export function hostileFrames(seed: number, count: number, a: HostileAddrs): Uint8Array[] {
  const r = prng(seed);
  const pick = (n: number) => r() % n;
  const RM = mac2b(a.routerMac);
  const AM = mac2b(a.aMac);
  const RIP = ip2n(a.routerIp);
  const AIP = ip2n(a.aIp);
  const BIP = ip2n(a.bIp);
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
  const ipb = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  // A host on A's subnet that is neither A nor the router nor the broadcast/network address.
  const onLink = () => (aNet | (3 + pick(251))) >>> 0;

  function ether(dst: number[], src: number[], type: number, payload: Uint8Array): Uint8Array {
    const f = new Uint8Array(14 + payload.length);
    f.set(dst, 0);
    f.set(src, 6);
    f[12] = type >> 8;
    f[13] = type & 255;
    f.set(payload, 14);
    return f;
  }

  function arp(op: number, sha: number[], spa: number, tha: number[], tpa: number): Uint8Array {
    const p = new Uint8Array(28);
    p.set([0, 1, 8, 0, 6, 4, 0, op, ...sha, ...ipb(spa), ...tha, ...ipb(tpa)]);
    return p;
  }

  function ipv4(src: number, dst: number, proto: number, l4: Uint8Array, o: { ff?: number; id?: number; ttl?: number; opts?: number[] } = {}): Uint8Array {
    const opts = o.opts ?? [];
    const hl = 20 + opts.length;
    const p = new Uint8Array(hl + l4.length);
    const tot = p.length;
    const id = o.id ?? r() & 0xffff;
    const ff = o.ff ?? 0x4000;
    p.set([0x40 | (hl >> 2), 0, tot >> 8, tot & 255, id >> 8, id & 255, ff >> 8, ff & 255, o.ttl ?? 64, proto, 0, 0, ...ipb(src), ...ipb(dst), ...opts]);
    const c = csum(p, 0, hl);
    p[10] = c >> 8;
    p[11] = c & 255;
    p.set(l4, hl);
    return p;
  }

  function l4(proto: number, n: number): Uint8Array {
    const hl = proto === 6 ? 20 : 8;
    const p = new Uint8Array(hl + n);
    for (let i = 0; i < p.length; i++) p[i] = r() & 255;
    if (proto === 1) {
      p[0] = [0, 3, 5, 8, 11, 12, 13, 255][pick(8)];
      p[2] = p[3] = 0;
      const c = csum(p, 0, p.length);
      p[2] = c >> 8;
      p[3] = c & 255;
    } else if (proto === 17) {
      p[4] = p.length >> 8;
      p[5] = p.length & 255;
      p[6] = p[7] = 0;
    } else if (proto === 6) {
      p[12] = 0x50;
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
        return ether(bcast, randMac(), 0x0806, arp(1, randMac(), onLink(), zero6, RIP));
      case 1: {
        // request for the router from off-link senders (anywhere, B's subnet included)
        const sip = pick(2) === 0 ? behind() : r() >>> 0;
        return ether(bcast, randMac(), 0x0806, arp(1, randMac(), sip, zero6, RIP));
      }
      case 2: {
        // unsolicited replies to the router (not gratuitous)
        const sha = randMac();
        return ether(RM, sha, 0x0806, arp(2, sha, onLink(), RM, RIP));
      }
      case 3: {
        // gratuitous request / reply (sender = target), on-link and off-link
        const sha = randMac();
        const ip = pick(2) === 0 ? onLink() : r() >>> 0;
        return ether(bcast, sha, 0x0806, arp(1 + pick(2), sha, ip, pick(2) === 0 ? sha : bcast, ip));
      }
      case 4: {
        // someone claims the router's address or B's address
        const sha = randMac();
        const ip = pick(2) === 0 ? RIP : BIP;
        return ether(pick(2) === 0 ? bcast : RM, sha, 0x0806, arp(1 + pick(2), sha, ip, zero6, pick(2) === 0 ? RIP : ip));
      }
      case 5: {
        // special sender IPs (zero, broadcast, multicast, loopback, subnet broadcast) or MACs
        const sip = pick(2) === 0 ? specialIps[pick(specialIps.length)] : onLink();
        const sha = pick(2) === 0 ? specialMacs[pick(specialMacs.length)] : randMac();
        return ether(dstMac(), randMac(), 0x0806, arp(1 + pick(2), sha, sip, zero6, pick(4) === 0 ? specialIps[pick(specialIps.length)] : RIP));
      }
      case 6:
      case 7: {
        // IPv4 to every host behind the router and next to A (forwarded: the router must resolve)
        const proto = [1, 6, 17][pick(3)];
        const dst = pick(3) === 0 ? onLink() : behind();
        return ether(RM, AM, 0x0800, ipv4(pick(2) === 0 ? AIP : r() >>> 0, dst, proto, l4(proto, pick(64))));
      }
      case 8: {
        // IPv4 to the router itself (local delivery, ICMP errors back)
        const proto = [1, 6, 17, 47, 99][pick(5)];
        return ether(RM, AM, 0x0800, ipv4(pick(2) === 0 ? AIP : r() >>> 0, RIP, proto, l4(proto === 47 || proto === 99 ? 17 : proto, pick(64))));
      }
      case 9:
      case 10: {
        // never-completed fragments: to the router (reassembly) and through it, many ids/sources
        const dst = pick(2) === 0 ? RIP : behind();
        const off = pick(4) === 0 ? 0 : 1 + pick(180);
        const mf = pick(4) === 0 ? 0 : 0x2000;
        const data = l4(17, 8 * (1 + pick(100)));
        return ether(RM, AM, 0x0800, ipv4(pick(2) === 0 ? AIP : onLink(), dst, 17, data, { ff: mf | off }));
      }
      case 11: {
        // TTL 0/1 and IP options (time exceeded, parameter problem)
        const opts = [[1, 1, 1, 0], [7, 7, 4, 0, 0, 0, 0, 0], [0x44, 8, 5, 0, 0, 0, 0, 0], [0x83, 3, 4, 0], [0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]][pick(5)];
        return ether(RM, AM, 0x0800, ipv4(AIP, behind(), 17, l4(17, 16), { ttl: pick(3), opts }));
      }
      case 12: {
        // VLAN / QinQ around ARP or IPv4
        const inner = pick(2) === 0 ? arp(1, randMac(), onLink(), zero6, RIP) : ipv4(AIP, BIP, 1, l4(1, 16));
        const type = inner.length === 28 ? 0x0806 : 0x0800;
        const tags = pick(2) === 0 ? [0x81, 0x00, pick(16), pick(256), type >> 8, type & 255] : [0x88, 0xa8, 0, pick(256), 0x81, 0, 0, pick(256), type >> 8, type & 255];
        const f = new Uint8Array(12 + tags.length + inner.length);
        f.set(dstMac(), 0);
        f.set(AM, 6);
        f.set(tags, 12);
        f.set(inner, 12 + tags.length);
        return f;
      }
      case 13: {
        // other EtherTypes and an 802.3 length field
        const t = [0x86dd, 0x88cc, 0x0805, 0x0000, 0x05dc, 0x8035, 0xffff][pick(7)];
        const p = new Uint8Array(pick(200));
        for (let i = 0; i < p.length; i++) p[i] = r() & 255;
        return ether(dstMac(), AM, t, p);
      }
      default: {
        // garbage of any length
        const f = new Uint8Array(14 + pick(1501));
        for (let i = 0; i < f.length; i++) f[i] = r() & 255;
        if (pick(2) === 0) f.set(RM, 0);
        return f;
      }
    }
  }

  function mutate(f: Uint8Array): Uint8Array {
    const k = pick(8);
    if (k <= 2) {
      // bit flips, biased to the headers
      const g = f.slice();
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) {
        const at = pick(4) === 0 ? pick(g.length) : Math.min(g.length - 1, 12 + pick(48));
        g[at] ^= 1 << pick(8);
      }
      return g;
    }
    if (k === 3) return f.slice(0, 14 + pick(Math.max(1, f.length - 13))); // truncated
    if (k === 4) {
      // extended with garbage
      const extra = pick(Math.max(1, 1514 - f.length + 1));
      const g = new Uint8Array(Math.min(1514, f.length + extra));
      g.set(f);
      for (let i = f.length; i < g.length; i++) g[i] = r() & 255;
      return g;
    }
    if (k === 5) {
      // a random 16-bit field overwritten (lengths, checksums, types)
      const g = f.slice();
      const at = 12 + pick(Math.max(1, g.length - 13));
      g[at] = r() & 255;
      if (at + 1 < g.length) g[at + 1] = r() & 255;
      return g;
    }
    return f; // as is
  }

  const claimsA = (f: Uint8Array): boolean => {
    // ARP (plain or behind one/two tags) whose sender address is A's own address.
    let t = 12;
    for (let d = 0; d < 2 && t + 2 <= f.length && (f[t] << 8 | f[t + 1]) !== 0x0806; d++) {
      const ty = f[t] << 8 | f[t + 1];
      if (ty !== 0x8100 && ty !== 0x88a8) return false;
      t += 4;
    }
    const s = t + 2 + 14;
    return s + 4 <= f.length && ((f[s] << 24 | f[s + 1] << 16 | f[s + 2] << 8 | f[s + 3]) >>> 0) === AIP;
  };

  const out: Uint8Array[] = [];
  while (out.length < count) {
    const f = mutate(base());
    if (f.length < 14 || f.length > 1514 || (claimsA(f) && process.env.SN_HOSTILE_SPOOF_A !== "1")) continue;
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
  const AIP = ip2n(a.aIp);
  const BIP = ip2n(a.bIp);
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const len = Math.max(14 + 28, Math.min(1514, sizes[k % sizes.length]));
    const f = new Uint8Array(len);
    f.set(RM, 0);
    f.set(AM, 6);
    f[12] = 8;
    const tot = len - 14;
    f.set([0x45, 0, tot >> 8, tot & 255, (k >> 8) & 255, k & 255, 0x40, 0, 64, 17, 0, 0], 14);
    f.set([AIP >>> 24, (AIP >>> 16) & 255, (AIP >>> 8) & 255, AIP & 255, BIP >>> 24, (BIP >>> 16) & 255, (BIP >>> 8) & 255, BIP & 255], 26);
    const c = csum(f, 14, 20);
    f[24] = c >> 8;
    f[25] = c & 255;
    const sport = 1024 + (r() % 60000);
    const ulen = tot - 20;
    f.set([sport >> 8, sport & 255, 0x27, 0x0f, ulen >> 8, ulen & 255, 0, 0], 34); // to port 9999, no checksum
    out.push(f);
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
  const BIP = ip2n(a.bIp);
  const hostBits = (0xffffffff >>> a.bPrefix) >>> 0;
  const bNet = (BIP & ~hostBits) >>> 0;
  const base = benignFrames(seed, 1, a, [60])[0];
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const f = base.slice();
    const dst = (bNet | (1 + (r() % (hostBits - 1)))) >>> 0;
    f.set([dst >>> 24, (dst >>> 16) & 255, (dst >>> 8) & 255, dst & 255], 30);
    f[24] = f[25] = 0;
    const c = csum(f, 14, 20);
    f[24] = c >> 8;
    f[25] = c & 255;
    out.push(f);
  }
  return out;
}

// Whole frames as bytes, from text addresses, for kernel peers to inject (kernel-peer.ts inject):
// Ethernet, IPv4 (with its checksum), ICMP echo, UDP, ARP. The IPv4 and ARP fields and the
// checksums can be overridden or broken to make malformed frames.

export function mac(s: string): number[] {
  return s.split(':').map((x) => parseInt(x, 16));
}

export function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

export function csum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function eth(dst: string, src: string, type: number, payload: ArrayLike<number>): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set([...mac(dst), ...mac(src), type >> 8, type & 255]);
  f.set(payload, 14);
  return f;
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  ihl?: number;
  version?: number;
  /** Override the total length field. */
  totalLen?: number;
  /** Break the header checksum. */
  badCsum?: boolean;
  flagsFrag?: number;
  id?: number;
}

export function ipv4(o: Ipv4Spec, payload: ArrayLike<number>): Uint8Array {
  const ihl = o.ihl ?? 5;
  const hl = Math.max(20, ihl * 4);
  const p = new Uint8Array(hl + payload.length);
  const tot = o.totalLen ?? p.length;
  p.set([((o.version ?? 4) << 4) | ihl, 0, tot >> 8, tot & 255, (o.id ?? 1) >> 8, (o.id ?? 1) & 255, (o.flagsFrag ?? 0x4000) >> 8, (o.flagsFrag ?? 0x4000) & 255, o.ttl ?? 64, o.proto, 0, 0, ...ip4(o.src), ...ip4(o.dst)]);
  const c = csum(p, 0, hl) ^ (o.badCsum ? 0x5555 : 0);
  p[10] = c >> 8;
  p[11] = c & 255;
  p.set(payload, hl);
  return p;
}

export function icmpEcho(payload = 32, opts: { badCsum?: boolean; type?: number } = {}): Uint8Array {
  const p = new Uint8Array(8 + payload);
  p.set([opts.type ?? 8, 0, 0, 0, 0x77, 0x77, 0, 1]);
  for (let i = 0; i < payload; i++) p[8 + i] = i & 255;
  const c = csum(p, 0, p.length) ^ (opts.badCsum ? 0x1111 : 0);
  p[2] = c >> 8;
  p[3] = c & 255;
  return p;
}

export function udp(sport: number, dport: number, payload: ArrayLike<number>): Uint8Array {
  // Checksum 0: "none" is legal for UDP over IPv4.
  const p = new Uint8Array(8 + payload.length);
  p.set([sport >> 8, sport & 255, dport >> 8, dport & 255, p.length >> 8, p.length & 255, 0, 0]);
  p.set(payload, 8);
  return p;
}

export interface ArpSpec {
  hrd?: number;
  pro?: number;
  hln?: number;
  pln?: number;
  op?: number;
  sha: string;
  spa: string;
  tpa: string;
}

export function arp(o: ArpSpec): Uint8Array {
  const hln = o.hln ?? 6;
  const pln = o.pln ?? 4;
  const p = new Uint8Array(28);
  p.set([0, o.hrd ?? 1, (o.pro ?? 0x800) >> 8, (o.pro ?? 0x800) & 255, hln, pln, 0, o.op ?? 1, ...mac(o.sha), ...ip4(o.spa), 0, 0, 0, 0, 0, 0, ...ip4(o.tpa)]);
  return p;
}

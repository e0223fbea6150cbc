// Crafting test/generator frames: Ethernet + IPv4 + UDP with a correct IPv4 header checksum
// (the UDP checksum is 0, which IPv4 allows: "no checksum").

export interface UdpFrameSpec {
  srcMac: Uint8Array | string;
  dstMac: Uint8Array | string;
  /** Host-order u32 or dotted quad. */
  srcIp: number | string;
  dstIp: number | string;
  sport: number;
  dport: number;
  /** Whole frame length in bytes without FCS (>= 42). Default 60 (a minimum frame, "64 B" on the wire). */
  size?: number;
  ttl?: number;
}

export function parseMac(s: Uint8Array | string): Uint8Array {
  if (typeof s !== 'string') {
    if (s.length !== 6) throw new Error(`MAC must be 6 bytes, got ${s.length}`);
    return s;
  }
  const p = s.split(/[:-]/);
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{1,2}$/.test(x))) throw new Error(`bad MAC address '${s}' (want aa:bb:cc:dd:ee:ff)`);
  return Uint8Array.from(p.map((x) => parseInt(x, 16)));
}

export function parseIpv4(s: number | string): number {
  if (typeof s === 'number') return s >>> 0;
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new Error(`bad IPv4 address '${s}'`);
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** RFC 1071 checksum over u8[off, off+len). */
export function ipChecksum(u8: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (u8[off + i] << 8) | u8[off + i + 1];
  if (len & 1) sum += u8[off + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  const size = spec.size ?? 60;
  if (size < 42 || size > 9014) throw new Error(`frame size ${size} out of range 42..9014`);
  const f = new Uint8Array(size);
  const dv = new DataView(f.buffer);
  f.set(parseMac(spec.dstMac), 0);
  f.set(parseMac(spec.srcMac), 6);
  dv.setUint16(12, 0x0800);
  const ip = 14;
  f[ip] = 0x45;
  dv.setUint16(ip + 2, size - 14);
  dv.setUint16(ip + 6, 0x4000); // DF
  f[ip + 8] = spec.ttl ?? 64;
  f[ip + 9] = 17;
  dv.setUint32(ip + 12, parseIpv4(spec.srcIp));
  dv.setUint32(ip + 16, parseIpv4(spec.dstIp));
  dv.setUint16(ip + 10, ipChecksum(f, ip, 20));
  const udp = ip + 20;
  dv.setUint16(udp, spec.sport & 0xffff);
  dv.setUint16(udp + 2, spec.dport & 0xffff);
  dv.setUint16(udp + 4, size - udp);
  return f;
}

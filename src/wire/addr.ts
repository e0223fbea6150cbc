/**
 * MAC and IPv4 addresses as text: the one parser and formatter of each (control plane, CLI,
 * config, tests). Tables hold IPv4 addresses as host-order u32 numbers. Parsing may allocate; the
 * throwing forms name the offending text.
 */

const HEX_BYTE = /^[0-9a-fA-F]{1,2}$/;

/** Six bytes from "aa:bb:cc:dd:ee:ff" (or with '-'); null when it is not a MAC. */
export function tryParseMac(s: string): Uint8Array<ArrayBuffer> | null {
  const parts = s.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !HEX_BYTE.test(p))) return null;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** Six bytes from a MAC string; throws naming the input. */
export function parseMac(s: string): Uint8Array<ArrayBuffer> {
  const m = tryParseMac(s);
  if (m === null) throw new Error(`"${s}" is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)`);
  return m;
}

/** "aa:bb:cc:dd:ee:ff" from a (hi u32, lo u16) pair. */
export function macPairToString(hi: number, lo: number): string {
  const b = [hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, lo >>> 8, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** "aa:bb:cc:dd:ee:ff" from six bytes at u8[off]. */
export function formatMac(u8: Uint8Array, off = 0): string {
  let s = '';
  for (let k = 0; k < 6; k++) s += (k === 0 ? '' : ':') + u8[off + k].toString(16).padStart(2, '0');
  return s;
}

/** Host-order u32 from a dotted quad ("10.0.0.1"); null when it is not one. */
export function tryParseIPv4(s: string): number | null {
  const parts = s.trim().split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** Host-order u32 from a dotted quad; throws `invalid IPv4 address "x"` naming the text. */
export function parseIPv4(s: string): number {
  const v = tryParseIPv4(s);
  if (v === null) throw new Error(`invalid IPv4 address "${s}"`);
  return v;
}

/** Dotted quad from a host-order u32. */
export function formatIPv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Netmask for a prefix length 0..32, as u32. `<< 32` is a no-op in JS, hence the special case. */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Prefix length of a contiguous netmask, or -1 if the mask has holes. */
export function maskLen(mask: number): number {
  mask >>>= 0;
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1; // the inverse must be 2^k - 1
  let n = 0;
  for (let m = mask; m !== 0; m = (m << 1) >>> 0) n++;
  return n;
}

export interface Cidr {
  prefix: number;
  len: number;
}

/**
 * Parses "a.b.c.d/len", "a.b.c.d/m.m.m.m" or a bare address (= /32).
 * strict: host bits set after the prefix are an error (as `ip route add` says
 * "Invalid prefix for given prefix length"); otherwise they are masked off (as iptables does).
 */
export function parseCidr(s: string, strict = false): Cidr {
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const addr = tryParseIPv4(addrText);
  if (addr === null) throw new Error(`invalid IPv4 address "${addrText}" in "${s}"`);
  let len = 32;
  if (slash >= 0) {
    const lt = s.slice(slash + 1);
    if (/^\d{1,2}$/.test(lt) && Number(lt) <= 32) len = Number(lt);
    else {
      const m = tryParseIPv4(lt);
      len = m === null ? -1 : maskLen(m);
      if (len < 0) throw new Error(`invalid prefix length "${lt}" in "${s}" (expected 0..32 or a netmask)`);
    }
  }
  const mask = maskOf(len);
  if (strict && (addr & ~mask) !== 0) {
    throw new Error(`invalid prefix for given prefix length: "${s}" has host bits set (did you mean ${formatIPv4((addr & mask) >>> 0)}/${len}?)`);
  }
  return { prefix: (addr & mask) >>> 0, len };
}

export function formatCidr(prefix: number, len: number): string {
  return `${formatIPv4(prefix)}/${len}`;
}

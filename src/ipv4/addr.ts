/**
 * IPv4 addresses and prefixes as host-order u32 numbers (the form every table in softnet uses).
 * Control-plane code: parsing may allocate and throws errors that name the offending text.
 */

/** Netmask for a prefix length 0..32, as u32. `<< 32` is a no-op in JS, hence the special case. */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Prefix length of a contiguous netmask, or -1 if the mask has holes. */
export function maskLen(mask: number): number {
  mask >>>= 0;
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return -1; // inverse must be 2^k - 1
  let n = 0;
  for (let m = mask; m !== 0; m = (m << 1) >>> 0) n++;
  return n;
}

/** Parses a dotted quad ("10.0.0.1"); returns null instead of throwing (for callers that try). */
export function tryParseIPv4(s: string): number | null {
  const parts = s.split('.');
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

/** Parses a dotted quad; throws `invalid IPv4 address "x"` naming the text. */
export function parseIPv4(s: string): number {
  const v = tryParseIPv4(s);
  if (v === null) throw new Error(`invalid IPv4 address "${s}"`);
  return v;
}

export function formatIPv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
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

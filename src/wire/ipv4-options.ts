import { IPV4_HLEN } from './ipv4.ts';

/**
 * ip_options_compile for received packets: walk the options of the header at h (ihl bytes) and
 * bounds-check every one. Options are passed through unchanged (record route and timestamp are
 * not filled in). Returns OPT_OK, OPT_SRR (a source route: Linux drops these with
 * accept_source_route=0), or the byte offset from the IP header of the faulty octet, which is
 * the pointer of the ICMP parameter problem (>= 20, so it never collides with OPT_*).
 */
export const OPT_OK = -1;
export const OPT_SRR = -2;

export const IPOPT_END = 0;
export const IPOPT_NOOP = 1;
export const IPOPT_RR = 7;
export const IPOPT_TIMESTAMP = 68;
export const IPOPT_LSRR = 131;
export const IPOPT_SSRR = 137;
export const IPOPT_RA = 148;

export function ipOptionsCompile(u8: Uint8Array, h: number, ihl: number): number {
  let p = h + IPV4_HLEN;
  const end = h + ihl;
  let srr = false;
  let rr = false;
  let ts = false;
  while (p < end) {
    const type = u8[p];
    if (type === IPOPT_END) break;
    if (type === IPOPT_NOOP) {
      p++;
      continue;
    }
    if (end - p < 2) return p - h;
    const optlen = u8[p + 1];
    if (optlen < 2 || optlen > end - p) return p - h;
    switch (type) {
      case IPOPT_SSRR:
      case IPOPT_LSRR:
        if (optlen < 3) return p + 1 - h;
        if (u8[p + 2] < 4) return p + 2 - h;
        if (srr) return p - h; // two source routes
        srr = true;
        break;
      case IPOPT_RR:
        if (rr) return p - h;
        rr = true;
        if (optlen < 3) return p + 1 - h;
        if (u8[p + 2] < 4) return p + 2 - h;
        if (u8[p + 2] <= optlen && u8[p + 2] + 3 > optlen) return p + 2 - h;
        break;
      case IPOPT_TIMESTAMP: {
        if (optlen < 4) return p + 1 - h;
        const ptr = u8[p + 2];
        if (ptr < 5) return p + 2 - h;
        const fl = u8[p + 3] & 0x0f;
        if (ts) return p - h;
        ts = true;
        if (ptr <= optlen) {
          if (ptr + 3 > optlen) return p + 2 - h;
          if ((fl === 1 || fl === 3) && ptr + 7 > optlen) return p + 2 - h;
        } else if (fl !== 3 && (u8[p + 3] & 0xf0) === 0xf0) {
          return p + 3 - h; // overflow counter wrapped
        }
        break;
      }
      case IPOPT_RA:
        if (optlen < 4) return p + 1 - h;
        break;
      default:
        // Unknown, security, stream id, CIPSO: a received packet keeps them (length checked).
        break;
    }
    p += optlen;
  }
  return srr ? OPT_SRR : OPT_OK;
}

/**
 * ip_options_fragment: in the copy of the header used for the 2nd and later fragments, replace
 * options without the "copied" flag (0x80) by NOOPs (the header keeps its length).
 */
export function ipOptionsFragment(u8: Uint8Array, h: number, ihl: number): void {
  let p = h + IPV4_HLEN;
  const end = h + ihl;
  while (p < end) {
    const type = u8[p];
    if (type === IPOPT_END) return;
    if (type === IPOPT_NOOP) {
      p++;
      continue;
    }
    if (end - p < 2) return;
    const optlen = u8[p + 1];
    if (optlen < 2 || optlen > end - p) return;
    if ((type & 0x80) === 0) u8.fill(IPOPT_NOOP, p, p + optlen);
    p += optlen;
  }
}

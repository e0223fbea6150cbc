import type { TcpCtx } from './ctx.ts';
import { tupleMix } from './hash.ts';

/**
 * SYN cookies (net/ipv4/syncookies.c): when a listener's SYN queue is full, the SYN-ACK's ISN
 * carries the state instead of a connection — a keyed hash of the 4-tuple, the peer's ISN, a
 * minute counter (cookies live two minutes) and an index into a small MSS table — so a flood of
 * SYNs from nowhere fills nothing. The ACK that completes the handshake proves the peer saw the
 * SYN-ACK: its ack - 1 is checked against the hash and the connection is made then.
 *
 * As in Linux without timestamps, a cookie cannot remember window scaling, SACK or timestamps:
 * the cookie SYN-ACK offers none of them (only the MSS), so both ends agree to go without.
 * The hash is a 32-bit keyed mix (Math.imul rounds over a per-stack random key), not SipHash:
 * enough against blind guessing at these rates, not a cryptographic MAC.
 */

const COOKIEBITS = 24;
const COOKIEMASK = (1 << COOKIEBITS) - 1;
/** Minutes a cookie stays valid (MAX_SYNCOOKIE_AGE). */
const MAX_AGE = 2;
/** msstab: the MSS values a cookie can carry (index in 2 bits), Linux's table. */
export const MSS_TABLE = [536, 1300, 1440, 1460];

export class SynCookies {
  private readonly k1 = (Math.random() * 0x100000000) >>> 0;
  private readonly k2 = (Math.random() * 0x100000000) >>> 0;

  constructor(private readonly ctx: TcpCtx) {}

  private count(): number {
    return Math.floor(this.ctx.now() / 60000) & 0xff;
  }

  private hash(saddr: number, daddr: number, ports: number, count: number, key: number): number {
    let h = tupleMix(key, saddr, daddr, ports) ^ count;
    h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The ISN for a SYN (peer's ISN `sseq`) with MSS table index mssind. */
  make(saddr: number, daddr: number, sport: number, dport: number, sseq: number, mssind: number): number {
    const ports = ((sport << 16) | dport) >>> 0;
    const c = this.count();
    return (this.hash(saddr, daddr, ports, 0, this.k1) + sseq + (c << COOKIEBITS) + ((this.hash(saddr, daddr, ports, c, this.k2) + mssind) & COOKIEMASK)) >>> 0;
  }

  /** The MSS table index a cookie (ack - 1 of the handshake's ACK) carries, or -1 if it is not ours or too old. */
  check(saddr: number, daddr: number, sport: number, dport: number, sseq: number, cookie: number): number {
    const ports = ((sport << 16) | dport) >>> 0;
    const diff = (cookie - this.hash(saddr, daddr, ports, 0, this.k1) - sseq) >>> 0;
    const cc = diff >>> COOKIEBITS;
    if (((this.count() - cc) & 0xff) > MAX_AGE) return -1;
    const ind = ((diff & COOKIEMASK) - this.hash(saddr, daddr, ports, cc, this.k2)) & COOKIEMASK;
    return ind < MSS_TABLE.length ? ind : -1;
  }

  /** The largest table MSS not above the peer's. */
  static index(mss: number): number {
    for (let k = MSS_TABLE.length - 1; k > 0; k--) if (mss >= MSS_TABLE[k]) return k;
    return 0;
  }
}

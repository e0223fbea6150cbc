/**
 * The UDP socket table (udp_table, __udp4_lib_lookup, udp_lib_get_port, udp_lib_lport_inuse):
 * sockets as typed-array columns, chained per local port. Lookups walk one port's chain, so they
 * cost what that port has (Linux switches to a second (address, port) hash when a chain is long;
 * here a port rarely has more than a few sockets, a reuseport group's size at most).
 *
 * Lookup follows compute_score and the two passes of __udp4_lib_lookup:
 *  - a socket bound to the destination address beats every wildcard-bound one (the kernel looks
 *    up (daddr, port) first, then (INADDR_ANY, port));
 *  - then a connected socket (remote address +4, remote port +4) beats an unconnected one, a
 *    device-bound socket (+4) an unbound one; a socket whose remote or device does not match is
 *    no candidate;
 *  - among equal best scores, an SO_REUSEPORT group (unconnected sockets with the same local
 *    address and reuseport) spreads flows by a hash of the 4-tuple (reuseport_select_sock).
 */
import { grown } from '../core/grow.ts';

export const UDP_REUSEADDR = 1;
export const UDP_REUSEPORT = 2;
/** Hashed on its port's chain (bound). */
export const UDP_HASHED = 4;

const NO_PORT = 65536;

export class UdpTable {
  lport = new Uint16Array(0);
  laddr = new Uint32Array(0);
  raddr = new Uint32Array(0);
  rport = new Uint16Array(0);
  /** SO_BINDTODEVICE: device index, -1 = any. */
  dev = new Int16Array(0);
  flags = new Uint8Array(0);
  next = new Int32Array(0);
  /** Local port -> first socket id on its chain, -1 = none. */
  readonly head = new Int32Array(NO_PORT).fill(-1);
  private readonly freeIds: number[] = [];
  private used = 0;

  get capacity(): number {
    return this.next.length;
  }

  /** A new socket id (unbound: on no chain). */
  alloc(): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.used++;
      if (id >= this.next.length) this.grow(Math.max(16, this.next.length * 2));
    }
    this.lport[id] = 0;
    this.laddr[id] = 0;
    this.raddr[id] = 0;
    this.rport[id] = 0;
    this.dev[id] = -1;
    this.flags[id] = 0;
    this.next[id] = -1;
    return id;
  }

  /** Forget a socket (unhashes it first). */
  release(id: number): void {
    this.unhash(id);
    this.flags[id] = 0;
    this.freeIds.push(id);
  }

  /** Put socket id on the chain of its local port (this.lport[id]). */
  hash(id: number): void {
    if ((this.flags[id] & UDP_HASHED) !== 0) return;
    const p = this.lport[id];
    this.next[id] = this.head[p];
    this.head[p] = id;
    this.flags[id] |= UDP_HASHED;
  }

  unhash(id: number): void {
    if ((this.flags[id] & UDP_HASHED) === 0) return;
    const p = this.lport[id];
    let s = this.head[p];
    if (s === id) this.head[p] = this.next[id];
    else {
      while (s >= 0 && this.next[s] !== id) s = this.next[s];
      if (s >= 0) this.next[s] = this.next[id];
    }
    this.next[id] = -1;
    this.flags[id] &= ~UDP_HASHED;
  }

  /**
   * compute_score for a datagram saddr:sport -> daddr:dport arriving on device dif: -1 when
   * socket s cannot take it. The local address weighs 16 so that any socket bound to daddr beats
   * any wildcard one (the kernel's first pass).
   */
  score(s: number, saddr: number, sport: number, daddr: number, dif: number): number {
    let sc = 2;
    const la = this.laddr[s];
    if (la !== 0) {
      if (la !== daddr) return -1;
      sc += 16;
    }
    const ra = this.raddr[s];
    if (ra !== 0) {
      if (ra !== saddr) return -1;
      sc += 4;
    }
    const rp = this.rport[s];
    if (rp !== 0) {
      if (rp !== sport) return -1;
      sc += 4;
    }
    const d = this.dev[s];
    if (d >= 0) {
      if (d !== dif) return -1;
      sc += 4;
    }
    return sc;
  }

  /** __udp4_lib_lookup: the socket for a unicast datagram, or -1 (NoPorts). Addresses host order, unsigned. */
  lookup(saddr: number, sport: number, daddr: number, dport: number, dif: number): number {
    let best = -1;
    let bestScore = -1;
    let group = 0;
    for (let s = this.head[dport]; s >= 0; s = this.next[s]) {
      const sc = this.score(s, saddr, sport, daddr, dif);
      if (sc < 0) continue;
      if (sc > bestScore) {
        best = s;
        bestScore = sc;
        group = this.inGroup(s) ? 1 : 0;
      } else if (sc === bestScore && group > 0 && this.sameGroup(best, s)) group++;
    }
    if (group <= 1) return best;
    // reuseport_select_sock: the k-th member by the flow's hash (reciprocal_scale).
    let k = Math.floor((flowHash(saddr, sport, daddr, dport) * group) / 4294967296);
    for (let s = this.head[dport]; s >= 0; s = this.next[s]) {
      if (s !== best && !this.sameGroup(best, s)) continue;
      if (this.score(s, saddr, sport, daddr, dif) !== bestScore) continue;
      if (k-- === 0) return s;
    }
    return best;
  }

  /** An unconnected SO_REUSEPORT socket: a member of its (address, port)'s group. */
  private inGroup(s: number): boolean {
    return (this.flags[s] & UDP_REUSEPORT) !== 0 && this.rport[s] === 0;
  }

  private sameGroup(a: number, b: number): boolean {
    return this.inGroup(b) && this.laddr[a] === this.laddr[b] && this.dev[a] === this.dev[b];
  }

  /**
   * udp_lib_lport_inuse: would socket id, bound to laddr:port with flags, conflict with a socket
   * on that port? Addresses overlap when equal or either is the wildcard, devices when equal or
   * either is unbound; two SO_REUSEADDR sockets, or two SO_REUSEPORT sockets, may share.
   */
  inUse(id: number, port: number, laddr: number, flags: number, dev: number): boolean {
    for (let s = this.head[port]; s >= 0; s = this.next[s]) {
      if (s === id) continue;
      const la = this.laddr[s];
      if (la !== 0 && laddr !== 0 && la !== laddr) continue;
      const d = this.dev[s];
      if (d >= 0 && dev >= 0 && d !== dev) continue;
      const f = this.flags[s];
      if ((f & flags & UDP_REUSEADDR) !== 0) continue;
      if ((f & flags & UDP_REUSEPORT) !== 0) continue;
      return true;
    }
    return false;
  }

  /**
   * udp_lib_get_port with port 0: an ephemeral port in [lo, hi] from a random start, a port with
   * no socket at all first, else one this binding does not conflict on; -1 when none (EAGAIN).
   */
  ephemeral(id: number, lo: number, hi: number, laddr: number, flags: number, dev: number, rand = Math.random()): number {
    const n = hi - lo + 1;
    const start = Math.floor(rand * n);
    for (let k = 0; k < n; k++) {
      const p = lo + ((start + k) % n);
      if (this.head[p] < 0) return p;
    }
    for (let k = 0; k < n; k++) {
      const p = lo + ((start + k) % n);
      if (!this.inUse(id, p, laddr, flags, dev)) return p;
    }
    return -1;
  }

  private grow(n: number): void {
    this.lport = grown(this.lport, n);
    this.laddr = grown(this.laddr, n);
    this.raddr = grown(this.raddr, n);
    this.rport = grown(this.rport, n);
    this.dev = grown(this.dev, n);
    this.flags = grown(this.flags, n);
    this.next = grown(this.next, n);
  }
}

/** udp_ehashfn's role: a 32-bit hash of the 4-tuple (a multiply-xorshift mix, not jhash). */
export function flowHash(saddr: number, sport: number, daddr: number, dport: number): number {
  let h = Math.imul(saddr ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(daddr ^ (h >>> 15), 0xc2b2ae35);
  h ^= Math.imul(((sport << 16) | dport) ^ (h >>> 13), 0x27d4eb2f);
  h ^= h >>> 16;
  return h >>> 0;
}

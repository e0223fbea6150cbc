import { tupleMix } from './hash.ts';
import type { Tcb } from './tcb.ts';

/** A listening socket (inet_csk listen state + its request/accept queues' counts). */
export class Listener {
  /** Slot in the listener list. */
  id = -1;
  /** Next listener on the same port, -1 = none. */
  next = -1;
  /** Connections in SYN-RECEIVED (the SYN queue) and established, not yet accepted. */
  synQueue = 0;
  acceptQueue = 0;
  /** When the SYN queue last overflowed (ms): cookies are checked on ACKs for two minutes after. */
  lastOverflow = -Infinity;
  /** The application end (TcpServer): takes established connections. */
  user: ListenUser | null = null;
  /** Its connections receive zero-copy (TcpServerOptions.recvBatch). */
  zc = false;
  constructor(
    readonly addr: number,
    readonly port: number,
    public backlog: number,
  ) {}
}

export interface ListenUser {
  /** An established connection is ready for the application (after the dispatch). */
  onAccept(tcb: Tcb): void;
}

const EMPTY = 0;
const TOMB = -1;

/**
 * The connection table (inet_hashinfo: ehash for connections, lhash for listeners, the port
 * allocator of inet_hash_connect). Connections are found by their 4-tuple in an open-addressing
 * hash over key columns (typed arrays, no object touched until the match): bounded by `max`
 * connections in any state. Listeners chain per local port; a specific address beats the
 * wildcard (compute_score). Local ports for connect() come from ip_local_port_range, checked
 * for a free 4-tuple (a port may serve several destinations, as in Linux).
 */
export class TcpTable {
  readonly conns: Array<Tcb | null>;
  /** Key columns per connection slot. */
  private readonly kL: Uint32Array;
  private readonly kR: Uint32Array;
  /** lport << 16 | rport. */
  private readonly kP: Uint32Array;
  private readonly freeIds: Int32Array;
  private freeTop: number;
  /** Hash slots: connection id + 1, EMPTY or TOMB. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private tombs = 0;
  count = 0;
  /** Connections per state (ss summaries, TIME-WAIT bound). */
  readonly perState = new Int32Array(12);

  readonly listeners: Array<Listener | null> = [];
  private readonly listenHead = new Int32Array(65536).fill(-1);
  private readonly seed: number;
  private nextPort = 0;

  constructor(readonly max: number) {
    this.conns = new Array<Tcb | null>(max).fill(null);
    this.kL = new Uint32Array(max);
    this.kR = new Uint32Array(max);
    this.kP = new Uint32Array(max);
    this.freeIds = new Int32Array(max);
    for (let k = 0; k < max; k++) this.freeIds[k] = max - 1 - k;
    this.freeTop = max;
    let size = 16;
    while (size < max * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.seed = (Math.random() * 0x100000000) >>> 0;
    this.nextPort = (Math.random() * 65536) >>> 0;
  }

  get full(): boolean {
    return this.freeTop === 0;
  }

  private hash(laddr: number, lport: number, raddr: number, rport: number): number {
    const h = tupleMix(this.seed, laddr, raddr, (lport << 16) | rport);
    return (h ^ (h >>> 16)) & this.mask;
  }

  /** __inet_lookup_established: the connection id for a segment to laddr:lport from raddr:rport, or -1. */
  lookup(laddr: number, lport: number, raddr: number, rport: number): number {
    const slots = this.slots;
    const ports = ((lport << 16) | rport) >>> 0;
    let h = this.hash(laddr, lport, raddr, rport);
    for (;;) {
      const s = slots[h];
      if (s === EMPTY) return -1;
      if (s > 0) {
        const id = s - 1;
        if (this.kP[id] === ports && this.kL[id] === laddr && this.kR[id] === raddr) return id;
      }
      h = (h + 1) & this.mask;
    }
  }

  /** Hash a connection under its 4-tuple (which must be free); false when the table is full. */
  insert(t: Tcb): boolean {
    if (this.freeTop === 0) return false;
    const id = this.freeIds[--this.freeTop];
    t.id = id;
    this.conns[id] = t;
    this.kL[id] = t.laddr >>> 0;
    this.kR[id] = t.raddr >>> 0;
    this.kP[id] = ((t.lport << 16) | t.rport) >>> 0;
    let h = this.hash(t.laddr >>> 0, t.lport, t.raddr >>> 0, t.rport);
    while (this.slots[h] > 0) h = (h + 1) & this.mask;
    if (this.slots[h] === TOMB) this.tombs--;
    this.slots[h] = id + 1;
    this.count++;
    this.perState[t.state]++;
    return true;
  }

  /** Unhash and free a connection's slot. */
  remove(t: Tcb): void {
    const id = t.id;
    if (id < 0 || this.conns[id] !== t) return;
    let h = this.hash(this.kL[id], this.kP[id] >>> 16, this.kR[id], this.kP[id] & 0xffff);
    while (this.slots[h] !== id + 1) h = (h + 1) & this.mask;
    // A tombstone keeps later probes going; a slot followed by EMPTY can be EMPTY at once.
    if (this.slots[(h + 1) & this.mask] === EMPTY) this.slots[h] = EMPTY;
    else {
      this.slots[h] = TOMB;
      this.tombs++;
    }
    this.conns[id] = null;
    this.freeIds[this.freeTop++] = id;
    this.count--;
    this.perState[t.state]--;
    t.id = -1;
    if (this.tombs > this.slots.length >>> 2) this.rehash();
  }

  /** Keep perState right when a hashed connection changes state. */
  stateChanged(from: number, to: number): void {
    this.perState[from]--;
    this.perState[to]++;
  }

  private rehash(): void {
    this.slots.fill(EMPTY);
    this.tombs = 0;
    for (let id = 0; id < this.conns.length; id++) {
      if (this.conns[id] === null) continue;
      let h = this.hash(this.kL[id], this.kP[id] >>> 16, this.kR[id], this.kP[id] & 0xffff);
      while (this.slots[h] !== EMPTY) h = (h + 1) & this.mask;
      this.slots[h] = id + 1;
    }
  }

  // ---- listeners ------------------------------------------------------------------------------

  /** __inet_lookup_listener: a listener on addr:port, else one on 0.0.0.0:port, else null. */
  listener(addr: number, port: number): Listener | null {
    let wild: Listener | null = null;
    for (let id = this.listenHead[port]; id >= 0; ) {
      const l = this.listeners[id]!;
      if (l.addr === addr) return l;
      if (l.addr === 0) wild = l;
      id = l.next;
    }
    return wild;
  }

  /** Is port bound by a listener that conflicts with addr (same address or either wildcard)? */
  portInUse(addr: number, port: number): boolean {
    for (let id = this.listenHead[port]; id >= 0; ) {
      const l = this.listeners[id]!;
      if (l.addr === addr || l.addr === 0 || addr === 0) return true;
      id = l.next;
    }
    return false;
  }

  addListener(l: Listener): void {
    let id = this.listeners.indexOf(null);
    if (id < 0) id = this.listeners.push(null) - 1;
    this.listeners[id] = l;
    l.id = id;
    l.next = this.listenHead[l.port];
    this.listenHead[l.port] = id;
  }

  removeListener(l: Listener): void {
    if (l.id < 0 || this.listeners[l.id] !== l) return;
    let prev = -1;
    for (let id = this.listenHead[l.port]; id >= 0; id = this.listeners[id]!.next) {
      if (id === l.id) {
        if (prev < 0) this.listenHead[l.port] = l.next;
        else this.listeners[prev]!.next = l.next;
        break;
      }
      prev = id;
    }
    this.listeners[l.id] = null;
    l.id = -1;
  }

  /** A free port in [lo, hi] for bind(0) (no listener and no connection uses it). */
  freeListenPort(lo: number, hi: number): number {
    const span = hi - lo + 1;
    for (let k = 0; k < span; k++) {
      const p = lo + ((this.nextPort + k) % span);
      if (this.listenHead[p] < 0 && !this.portHasConns(p)) {
        this.nextPort += k + 1;
        return p;
      }
    }
    return -1;
  }

  /**
   * __inet_hash_connect: a local port in [lo, hi] so that laddr:port -> raddr:rport is unused
   * and no listener holds the port; -1 when the range is exhausted (EADDRNOTAVAIL).
   */
  connectPort(laddr: number, raddr: number, rport: number, lo: number, hi: number): number {
    const span = hi - lo + 1;
    // Start where a hash of the destination points (RFC 6056 alg. 3), then walk.
    const start = (this.hash(laddr, 0, raddr, rport) + this.nextPort++) % span;
    for (let k = 0; k < span; k++) {
      const p = lo + ((start + k) % span);
      if (this.listenHead[p] >= 0) continue;
      if (this.lookup(laddr, p, raddr, rport) < 0) return p;
    }
    return -1;
  }

  private portHasConns(port: number): boolean {
    for (let id = 0; id < this.conns.length; id++) if (this.conns[id] !== null && this.kP[id] >>> 16 === port) return true;
    return false;
  }

  /** Every connection (control plane: ss). */
  *all(): Generator<Tcb> {
    for (const t of this.conns) if (t !== null) yield t;
  }
}

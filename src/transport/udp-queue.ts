/**
 * A UDP socket's receive queue (sk_receive_queue): datagrams waiting in their UMEM frames, as
 * typed-array columns in a ring. Three positions, ever-increasing (index = pos & mask):
 *
 *   head ........ read ........ tail
 *   | lent to the app | queued   |
 *
 * [head, read) were handed out by recvBatch and stay valid (and charged) until release();
 * [read, tail) wait to be read. Frames are charged to the socket (bytes, SO_RCVBUF) and to the
 * stack's SockMem from push until the frame returns to the pool.
 */
export class UdpQueue {
  /** Frame address to free (the packet's b.addr). */
  frame!: Uint32Array;
  /** UMEM offset of the payload. */
  data!: Uint32Array;
  len!: Uint16Array;
  saddr!: Uint32Array;
  sport!: Uint16Array;
  mask = 0;
  head = 0;
  read = 0;
  tail = 0;
  /** Bytes charged against SO_RCVBUF (frames held x truesize): what ss shows as Recv-Q. */
  bytes = 0;

  constructor(capacity: number) {
    this.columns(pow2(capacity));
  }

  /** New, empty columns of cap (a power of two) entries. */
  private columns(cap: number): void {
    this.frame = new Uint32Array(cap);
    this.data = new Uint32Array(cap);
    this.len = new Uint16Array(cap);
    this.saddr = new Uint32Array(cap);
    this.sport = new Uint16Array(cap);
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.tail - this.read;
  }

  /** Frames held: lent + queued. */
  get held(): number {
    return this.tail - this.head;
  }

  /**
   * Called after head moves: keep the positions small integers (V8 Smis) by taking whole ring
   * turns off all three, which leaves every index (pos & mask) unchanged.
   */
  rebase(): void {
    if (this.head < 0x40000000) return;
    const k = this.head - (this.head & this.mask);
    this.head -= k;
    this.read -= k;
    this.tail -= k;
  }

  /** Make room for at least `capacity` entries, keeping what is held (control plane: setRecvBufferSize). */
  grow(capacity: number): void {
    const cap = pow2(capacity);
    if (cap <= this.mask + 1) return;
    const o = { frame: this.frame, data: this.data, len: this.len, saddr: this.saddr, sport: this.sport, mask: this.mask };
    this.columns(cap);
    for (let p = this.head; p < this.tail; p++) {
      const a = p & o.mask;
      const b = p & this.mask;
      this.frame[b] = o.frame[a];
      this.data[b] = o.data[a];
      this.len[b] = o.len[a];
      this.saddr[b] = o.saddr[a];
      this.sport[b] = o.sport[a];
    }
  }
}

function pow2(n: number): number {
  let c = 4;
  while (c < n) c *= 2;
  return c;
}

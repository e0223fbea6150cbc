/**
 * A socket's received packets held in their UMEM frames, as typed-array columns in a ring — what
 * UDP's receive queue (udp-queue.ts) and TCP's zero-copy one (tcp/rcv-frames.ts) share. Three
 * positions, ever-increasing (index = pos & mask):
 *
 *   head ........ read ........ tail
 *   | lent to the app | queued   |
 *
 * [head, read) were handed out by recvBatch and stay valid until release(); [read, tail) wait.
 * A protocol adds its own columns (UDP: the sender) through columns()/setColumns().
 */
export class FrameRing {
  /** Frame address to free (the packet's b.addr). */
  frame: Uint32Array;
  /** UMEM offset of the payload. */
  data: Uint32Array;
  len: Uint16Array;
  mask: number;
  head = 0;
  read = 0;
  tail = 0;

  constructor(capacity: number) {
    const cap = pow2(capacity);
    this.frame = new Uint32Array(cap);
    this.data = new Uint32Array(cap);
    this.len = new Uint16Array(cap);
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Entries waiting to be read. */
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

  /** Make room for at least `capacity` entries, the held ones moved to their new indexes. */
  grow(capacity: number): void {
    const cap = pow2(capacity);
    if (cap <= this.mask + 1) return;
    const old = this.columns();
    const om = this.mask;
    const m = cap - 1;
    const cols = old.map((a) => new (a.constructor as Uint32ArrayConstructor)(cap));
    for (let c = 0; c < cols.length; c++) {
      const from = old[c];
      const to = cols[c];
      for (let p = this.head; p < this.tail; p++) to[p & m] = from[p & om];
    }
    this.setColumns(cols);
    this.mask = m;
  }

  /** Every column, in a fixed order (a subclass appends its own). */
  protected columns(): Array<Uint32Array | Uint16Array> {
    return [this.frame, this.data, this.len];
  }

  protected setColumns(c: Array<Uint32Array | Uint16Array>): void {
    this.frame = c[0] as Uint32Array;
    this.data = c[1] as Uint32Array;
    this.len = c[2] as Uint16Array;
  }
}

/**
 * Views of received bytes handed out by recvBatch, as columns: entry k's bytes are
 * u8[addr[k] .. addr[k] + len[k]) in the UMEM. Valid until the socket's release(), its next
 * recvBatch() or its close. Allocate once, reuse for every call. TcpViews is this; UdpViews adds
 * the senders.
 */
export class FrameViews {
  n = 0;
  readonly addr: Uint32Array;
  readonly len: Uint16Array;
  /** The UMEM bytes (set by recvBatch). */
  u8: Uint8Array = new Uint8Array(0);

  constructor(readonly capacity = 64) {
    this.addr = new Uint32Array(capacity);
    this.len = new Uint16Array(capacity);
  }

  /** Entry k's bytes as a Uint8Array view (allocates the view object; not a copy). */
  bytes(k: number): Uint8Array {
    return this.u8.subarray(this.addr[k], this.addr[k] + this.len[k]);
  }
}

function pow2(n: number): number {
  let c = 4;
  while (c < n) c *= 2;
  return c;
}

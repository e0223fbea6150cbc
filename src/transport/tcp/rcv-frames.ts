/**
 * In-order received bytes held in their UMEM frames, for a connection whose application reads
 * with TcpSocket.recvBatch (the zero-copy receive queue; RcvBuf is the copying one). A ring of
 * segments, three ever-increasing positions (index = pos & mask), as UdpQueue:
 *
 *   head ........ read ........ tail
 *   | lent to the app | queued   |
 *
 * [head, read) were handed out by recvBatch and stay valid until release(); [read, tail) wait.
 * Every frame is charged to the stack's SockMem from push until it goes back to the pool (that
 * share bounds the frames; the window, the bytes), and its payload bytes count against the
 * receive window until released. The ring grows by doubling.
 */
export class RcvFrames {
  /** Frame address (to free). */
  frame = new Uint32Array(64);
  /** UMEM offset of the in-order bytes. */
  data = new Uint32Array(64);
  len = new Uint16Array(64);
  mask = 63;
  head = 0;
  read = 0;
  tail = 0;
  /** Payload bytes held, lent and queued. */
  bytes = 0;

  /** Segments waiting to be handed out. */
  get queued(): number {
    return this.tail - this.read;
  }

  /** Frames held: lent + queued. */
  get held(): number {
    return this.tail - this.head;
  }

  /** Queue len bytes at data in frame (the caller charged the frame). */
  push(frame: number, data: number, len: number): void {
    if (this.tail - this.head > this.mask) this.grow();
    const x = this.tail & this.mask;
    this.frame[x] = frame;
    this.data[x] = data;
    this.len[x] = len;
    this.tail++;
    this.bytes += len;
  }

  /**
   * After head moves: keep the positions small integers (V8 Smis) by taking whole ring turns
   * off all three, which leaves every index unchanged.
   */
  rebase(): void {
    if (this.head < 0x40000000) return;
    const k = this.head - (this.head & this.mask);
    this.head -= k;
    this.read -= k;
    this.tail -= k;
  }

  /** Twice the room, the held entries moved to their new indexes. */
  private grow(): void {
    const { frame, data, len, mask } = this;
    const m = mask * 2 + 1;
    this.frame = new Uint32Array(m + 1);
    this.data = new Uint32Array(m + 1);
    this.len = new Uint16Array(m + 1);
    this.mask = m;
    for (let p = this.head; p < this.tail; p++) {
      this.frame[p & m] = frame[p & mask];
      this.data[p & m] = data[p & mask];
      this.len[p & m] = len[p & mask];
    }
  }
}

/**
 * Views of received bytes handed out by TcpSocket.recvBatch, as columns: segment k's bytes are
 * u8[addr[k] .. addr[k] + len[k]) in the UMEM, in stream order. Valid until the socket's
 * release(), its next recvBatch() or its close. Allocate once, reuse for every call.
 */
export class TcpViews {
  n = 0;
  readonly addr: Uint32Array;
  readonly len: Uint16Array;
  /** The UMEM bytes (set by recvBatch). */
  u8: Uint8Array = new Uint8Array(0);

  constructor(readonly capacity = 64) {
    this.addr = new Uint32Array(capacity);
    this.len = new Uint16Array(capacity);
  }

  /** Segment k's bytes as a Uint8Array view (allocates the view object; not a copy). */
  bytes(k: number): Uint8Array {
    return this.u8.subarray(this.addr[k], this.addr[k] + this.len[k]);
  }
}

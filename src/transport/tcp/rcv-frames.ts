import { FrameRing, FrameViews } from '../frame-ring.ts';

/**
 * In-order received bytes held in their UMEM frames, for a connection whose application reads
 * with TcpSocket.recvBatch (the zero-copy receive queue; RcvBuf is the copying one): a FrameRing
 * (../frame-ring.ts: [head, read) lent to the app until release(), [read, tail) queued), one
 * entry per segment. Every frame is charged to the stack's SockMem from push until it goes back
 * to the pool (that share bounds the frames; the window, the bytes), and its payload bytes count
 * against the receive window until released. The ring grows by doubling.
 */
export class RcvFrames extends FrameRing {
  /** Payload bytes held, lent and queued. */
  bytes = 0;

  constructor() {
    super(64);
  }

  /** Queue len bytes at data in frame (the caller charged the frame). */
  push(frame: number, data: number, len: number): void {
    if (this.tail - this.head > this.mask) this.grow(2 * (this.mask + 1));
    const x = this.tail & this.mask;
    this.frame[x] = frame;
    this.data[x] = data;
    this.len[x] = len;
    this.tail++;
    this.bytes += len;
  }
}

/**
 * Views of received bytes handed out by TcpSocket.recvBatch: segment k's bytes are
 * u8[addr[k] .. addr[k] + len[k]) in the UMEM, in stream order (bytes(k)); see FrameViews.
 */
export class TcpViews extends FrameViews {}

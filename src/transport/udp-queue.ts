import { FrameRing } from './frame-ring.ts';

/**
 * A UDP socket's receive queue (sk_receive_queue): datagrams waiting in their UMEM frames, a
 * FrameRing (frame-ring.ts: head/read/tail, lent and queued) with the sender's address and port
 * as two more columns. Frames are charged to the socket (bytes, SO_RCVBUF) and to the stack's
 * SockMem from push until the frame returns to the pool.
 */
export class UdpQueue extends FrameRing {
  saddr: Uint32Array;
  sport: Uint16Array;
  /** Bytes charged against SO_RCVBUF (frames held x truesize): what ss shows as Recv-Q. */
  bytes = 0;

  constructor(capacity: number) {
    super(capacity);
    this.saddr = new Uint32Array(this.capacity);
    this.sport = new Uint16Array(this.capacity);
  }

  protected override columns(): Array<Uint32Array | Uint16Array> {
    return [this.frame, this.data, this.len, this.saddr, this.sport];
  }

  protected override setColumns(c: Array<Uint32Array | Uint16Array>): void {
    super.setColumns(c);
    this.saddr = c[3] as Uint32Array;
    this.sport = c[4] as Uint16Array;
  }
}

import type { TransportSysctl } from './sysctl.ts';

/**
 * The frames all sockets hold (sk_memory_allocated / __sk_mem_raise_allocated, counted in frames):
 * datagrams and segments wait in their UMEM frames, so a socket that never reads holds frames
 * the NIC needs for its fill ring. Every socket queue charges one frame per packet here and
 * uncharges it when the frame goes back to the pool; a charge above net.core.sock_frames_max is
 * refused, and the protocol drops the packet and counts it (`MemErrors`, as udp_mem refusals).
 *
 * `truesize` is what one held frame costs against a socket's own buffer (SO_RCVBUF): the whole
 * UMEM frame, whatever the packet's length (the kernel charges skb->truesize, likewise more than
 * the payload).
 */
export class SockMem {
  /** Frames held by all sockets now. */
  held = 0;

  constructor(
    private readonly sysctl: TransportSysctl,
    readonly truesize: number,
  ) {}

  /** Charge one frame; false when sockets hold their whole share already (the protocol counts the drop). */
  charge(): boolean {
    if (this.held >= this.sysctl.sock_frames_max) return false;
    this.held++;
    return true;
  }

  uncharge(frames: number): void {
    this.held -= frames;
  }
}

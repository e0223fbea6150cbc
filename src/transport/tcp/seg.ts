import type { TcpOptions } from '../../wire/tcp.ts';

/**
 * The segment being processed (TCP_SKB_CB + the header fields tcp_rcv_* read), filled by tcp-rcv
 * from the frame: one object reused for every segment, so the input functions take no per-segment
 * allocation. Addresses are UMEM byte offsets.
 */
export class Seg {
  /** Frame address (what is freed or held). */
  frame = 0;
  /** IP and TCP header addresses. */
  iph = 0;
  th = 0;
  saddr = 0;
  daddr = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Window field as received (unscaled). */
  wnd = 0;
  hlen = 0;
  /** Payload address and length. */
  data = 0;
  len = 0;
  /** seq + len + SYN + FIN (end_seq). */
  end = 0;
  constructor(readonly opts: TcpOptions) {}
}

// What an input function did with the segment's frame (tcp-rcv acts on it).
/** Consumed: free the frame. */
export const SEG_FREE = -1;
/** Held (out-of-order queue): the connection owns the frame now. */
export const SEG_HELD = -2;
/** Answer with a RST built over the segment (tcp_v4_send_reset), then it leaves through ip-output. */
export const SEG_RESET = -3;
/** Look the segment up again (a TIME-WAIT connection gave way to a new SYN). */
export const SEG_RELOOKUP = -4;
/** Answer with a SYN-ACK carrying a SYN cookie (ctx.cookieIsn), built over the SYN. */
export const SEG_SYNCOOKIE = -5;
// Anything >= 0 is a drop reason id (the graph counts it and frees the frame).

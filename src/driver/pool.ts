import type { Umem } from './umem.ts';

/**
 * Owns every frame of a UMEM. A frame is always in exactly one place: free here, or lent out
 * (fill ring, RX ring, a batch, a queue, TX ring, completion ring). Addresses handed out point at
 * packet data (frame start + headroom); `free` accepts any address inside a frame.
 */
export class FramePool {
  readonly total: number;
  private readonly stack: Uint32Array;
  private top: number;
  private readonly mask: number;
  private readonly headroom: number;

  constructor(readonly umem: Umem) {
    this.total = umem.frames;
    this.stack = new Uint32Array(umem.frames);
    this.mask = ~(umem.frameSize - 1) >>> 0;
    this.headroom = umem.headroom;
    // Push in reverse so alloc() hands out low addresses first (friendlier to debug dumps).
    for (let i = 0; i < umem.frames; i++) this.stack[i] = (umem.frames - 1 - i) * umem.frameSize;
    this.top = umem.frames;
  }

  /** Frames currently free. */
  get available(): number {
    return this.top;
  }

  /** Address of a free frame's data area, or -1 when the pool is empty. */
  alloc(): number {
    if (this.top === 0) return -1;
    return this.stack[--this.top] + this.headroom;
  }

  /** Take up to n frames into out[0..]; returns how many. */
  allocMany(out: Uint32Array, n: number): number {
    const k = n < this.top ? n : this.top;
    for (let j = 0; j < k; j++) out[j] = this.stack[--this.top] + this.headroom;
    return k;
  }

  free(addr: number): void {
    if (this.top >= this.total) throw new Error('frame pool: double free (more frames returned than exist)');
    this.stack[this.top++] = (addr & this.mask) >>> 0;
  }

  /** Frame start of any address inside it. */
  base(addr: number): number {
    return (addr & this.mask) >>> 0;
  }
}

// One UMEM per worker: every frame of every port lives here and is addressed by its byte offset.
// For AF_XDP ports the buffer is the natively mmap'ed UMEM (an external ArrayBuffer, never copied);
// for memory ports it is an ordinary ArrayBuffer of the same layout.

export interface Umem {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  /** Bytes per frame; a power of two so that `addr & ~(frameSize - 1)` finds a frame's start. */
  readonly frameSize: number;
  readonly frames: number;
  /** Bytes reserved at the start of each frame before packet data (room to push headers). */
  readonly headroom: number;
  /** Native UMEM id, or -1 for a JS-only UMEM (memory ports). */
  readonly handle: number;
}

export const DEFAULT_FRAME_SIZE = 2048;
export const DEFAULT_FRAMES = 4096;
export const DEFAULT_HEADROOM = 256;

export function memoryUmem(frames = DEFAULT_FRAMES, frameSize = DEFAULT_FRAME_SIZE, headroom = DEFAULT_HEADROOM): Umem {
  if ((frameSize & (frameSize - 1)) !== 0) throw new Error(`umem: frame size ${frameSize} is not a power of two`);
  const buffer = new ArrayBuffer(frames * frameSize);
  return { buffer, u8: new Uint8Array(buffer), dv: new DataView(buffer), frameSize, frames, headroom, handle: -1 };
}

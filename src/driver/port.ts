import type { FramePool } from './pool.ts';
import type { Umem } from './umem.ts';

/** How a port reaches its device. See README "Modes". */
export type PortMode = 'xdp-zc' | 'xdp-drv' | 'xdp-skb' | 'tap' | 'memory';
export type OpenMode = PortMode | 'auto';

/**
 * One queue of one device: the same batch interface for AF_XDP, TAP and in-memory ports
 * (`struct net_device` + its ring). Descriptor arrays are preallocated and owned by the port; a
 * batch call moves descriptors in and out of them and passes only integers to native code.
 */
export interface Port {
  readonly name: string;
  readonly dev: string;
  readonly queue: number;
  readonly mode: PortMode;
  readonly umem: Umem;
  readonly pool: FramePool;
  /** Largest batch rx()/tx() handle at once. */
  readonly batchSize: number;
  /** Device MAC address (6 bytes). */
  readonly mac: Uint8Array;
  /** Interface index in its namespace (0 for memory ports). */
  readonly ifindex: number;

  /** Filled by rx(): data address (UMEM offset) and length of each received frame. */
  readonly rxAddr: Uint32Array;
  readonly rxLen: Uint32Array;
  /** Filled by the caller before tx(). */
  readonly txAddr: Uint32Array;
  readonly txLen: Uint32Array;

  /**
   * Receive up to `max` (≤ batchSize) frames into rxAddr/rxLen; they now belong to the caller.
   * Also refills the fill ring from the pool and reaps TX completions back into the pool.
   */
  rx(max: number): number;
  /**
   * Transmit txAddr/txLen[0..n). Returns how many the port took (they return to the pool when
   * the device completes them); frames it did not take still belong to the caller.
   */
  tx(n: number): number;

  /**
   * Take finished TX frames (completion ring) back into the pool; rx() and tx() do this too, a
   * port that neither sends nor receives again needs it called. Returns how many.
   */
  reap(): number;
  /**
   * Lend the fill ring frames from the pool up to its target. False while it stays below its
   * minimum (the pool is short: counted rx_alloc_fail): the port is starved. A starved port may
   * receive nothing, so it gets no interrupt and is never polled again: whoever polls it must
   * call refill() later until it returns true (virtio_net's refill_work). Ports that take no
   * frames from the pool to receive always return true.
   */
  refill(): boolean;
  /**
   * Called (from rx() or refill()) each time the port becomes starved: the poll loop sets it to
   * schedule the retry. Null: nobody retries.
   */
  onStarved: (() => void) | null;

  /** The interrupt: `cb` runs (once) when the port has frames to receive; call again to re-arm. */
  armIrq(cb: () => void): void;
  /** Stop watching for readability. */
  disarmIrq(): void;

  /** Frames the port holds (fill/RX/TX/completion rings, TAP buffers): for accounting. */
  inFlight(): number;
  /** Driver counters, ethtool -S style (rx_packets, tx_packets, rx_dropped, xdp statistics...). */
  stats(): Record<string, number>;
  /** Returns every frame to the pool, detaches any XDP program, closes fds. Idempotent. */
  close(): void;
}

/** Options to open a port on a device. */
export interface PortOptions {
  name?: string;
  dev: string;
  queue?: number;
  mode?: OpenMode;
  batchSize?: number;
  /** For AF_XDP: use busy polling (SO_PREFER_BUSY_POLL) instead of the interrupt. */
  busyPoll?: boolean;
}

/** Thrown by native calls: the syscall, the errno name and what to do about it. */
export class DriverError extends Error {
  constructor(
    message: string,
    readonly syscall: string,
    readonly errno: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

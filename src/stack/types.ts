/**
 * What a Stack is built from (StackOptions, AddPortOptions) and what it reports (PortInfo,
 * StackStats, FrameAccount, captures). Kept apart so the stack's helpers (control handlers,
 * stats, capture) share these types without importing the Stack class.
 */
import { counterIds } from '../core/counters.ts';
import type { RuntimeRow } from '../core/graph.ts';
import type { XdpFilter } from '../core/xdp.ts';
import type { ConfigMode, CsumPartialMode, NapiConfig, VlanConfig } from '../config/schema.ts';
import type { TimerWheel } from '../core/timer-wheel.ts';
import type { NeighOptions } from '../l2/index.ts';
import type { TcpOptions } from '../transport/tcp/index.ts';

export interface StackOptions {
  name: string;
  /** Control socket path; null for none (the default for library use; `up` sets one). */
  control?: string | null;
  /** 'native' (AF_XDP/TAP ports, the default) or 'memory' (MemoryPorts only: unit tests). */
  umem?: 'native' | 'memory';
  /** UMEM frames (default 4096 x 2048 B; see notes on memlock). */
  frames?: number;
  /** Vector size of the graph (default 256). */
  batch?: number;
  napi?: Partial<NapiConfig> & { timeLimitMs?: number };
  neigh?: NeighOptions;
  /** net.ipv4.* sysctls at creation (see sysctl()). */
  sysctl?: Record<string, number | string>;
  /** Aging timer period in ms (neighbour retransmit/expiry, reassembly timeout). Default 250. */
  tickMs?: number;
  /** Operational messages (a port's link went down, came back...). Default: console.error. */
  log?: (line: string) => void;
  /** The protocol timer wheel (tests pass one on a manual clock). Default: a new one on the coarse clock. */
  timers?: TimerWheel;
  /** TCP options: net.ipv4.tcp_* sysctls, a clock (tests). */
  tcp?: TcpOptions;
}

export interface AddPortOptions {
  name: string;
  dev: string;
  queue?: number;
  mode?: ConfigMode;
  mtu?: number;
  addresses?: string[];
  /**
   * An XDP-style filter: a module path or the function itself (run in JS), or `{module, offload:
   * auto | kernel | js}`: compiled to eBPF and run in the driver when it can (xdp-offload.ts).
   */
  xdp?: string | XdpFilter | { module: string; offload?: 'auto' | 'kernel' | 'js' };
  vlans?: VlanConfig[];
  /** MAC softnet uses on this port (default: the device's; for TAP a derived one, see port.ts). */
  mac?: string;
  /** Complete partial TCP/UDP checksums from a veth peer: auto (= on for veth) | on | off. */
  csum_partial?: CsumPartialMode;
}

export interface PortInfo {
  name: string;
  dev: string;
  queue: number;
  mode: string;
  mac: string;
  /** What openPort tried and took ("xdp-drv: ok (copy)", "xdp-zc: failed: ..."). */
  report: string[];
  vlans: string[];
}

export interface StackStats {
  name: string;
  uptimeSec: number;
  softnet: Array<{ queue: string; processed: number; dropped: number; time_squeeze: number }>;
  /** The poll loop: event-loop turns, rounds and frames (frames per round is its batching). */
  napi: { turns: number; rounds: number; frames: number; squeezed_rounds: number; refill_retries: number; recheck_frames: number; irq_arms: number; irq_defers: number };
  ports: Record<string, Record<string, number | string>>;
  drops: Record<string, number>;
  mib: Record<string, Record<string, number>>;
  frames: FrameAccount;
}

/** VPP `show runtime`: per stage calls, packets, packets/call, ns/packet. */
export interface RuntimeView {
  uptimeSec: number;
  rows: RuntimeRow[];
}

/** Where every UMEM frame is; `lost` must be 0 between dispatches (DESIGN: "a frame is always in exactly one place"). */
export interface FrameAccount {
  total: number;
  free: number;
  ports: number;
  neigh: number;
  ipv4: number;
  /** Socket receive queues (and recvBatch views not yet released) and the ip-local-out ring. */
  sockets: number;
  lost: number;
}

export interface CaptureOptions {
  /** Port device name (default: all ports). */
  dev?: string;
  rx?: boolean;
  tx?: boolean;
  snaplen?: number;
  /** Frames held between flushes before new ones are dropped (bounded memory). Default 4096. */
  maxQueued?: number;
}

/** A captured frame: timestamp, original length, bytes (up to snaplen). */
export interface CapturedFrame {
  sec: number;
  usec: number;
  origLen: number;
  data: Uint8Array;
  dev: number;
  tx: boolean;
}

/** The stack's own counters that are not drops (`mib.Softnet` in stats): Stack.counters, ids in SOFTNET. */
export const SOFTNET_COUNTERS = ['control_requests', 'capture_dropped'] as const;
export const SOFTNET = counterIds(SOFTNET_COUNTERS);

// Typed loader of build/Release/softnet.node and the translation of its errors into DriverErrors
// with a hint a person can act on. Only setup code lives here; hot calls go straight to the addon.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DriverError } from './port.ts';
import { DEFAULT_FRAME_SIZE, DEFAULT_FRAMES, DEFAULT_HEADROOM, type Umem } from './umem.ts';

export interface XskOpenArgs {
  umem: number;
  ifindex: number;
  queue: number;
  zeroCopy: boolean;
  fillSize: number;
  compSize: number;
  rxSize: number;
  txSize: number;
  rxAddr: Uint32Array;
  rxLen: Uint32Array;
  txAddr: Uint32Array;
  txLen: Uint32Array;
  fillBuf: Uint32Array;
  compBuf: Uint32Array;
  busyPoll: boolean;
  /** xskRx prefetches each received frame's first cache line. */
  prefetch: boolean;
  busyPollBudget?: number;
}

export interface TapOpenArgs {
  name: string;
  umem: number;
  rxAddr: Uint32Array;
  rxLen: Uint32Array;
  txAddr: Uint32Array;
  txLen: Uint32Array;
  fillBuf: Uint32Array;
  freeCap: number;
  txqueuelen: number;
  up: boolean;
}

/** A loaded XDP program of the caller's and the XSKMAP it redirects "to user space" through (fds it keeps open). */
export interface XdpProgramFds {
  prog: number;
  xskmap: number;
  maxEntries: number;
}

/** The addon's functions. Hot calls take (id, integer) and return an integer. */
export interface NativeAddon {
  noop(a?: number, b?: number): number;
  /** Pin the calling thread (only) to one CPU: sched_setaffinity(0). */
  pinThread(cpu: number): void;
  /** Register the Float64Array clockNow() writes (ms on the scale of nowMs at the call). */
  clockInit(slot: Float64Array, nowMs: number): void;
  /** Write CLOCK_MONOTONIC (ms, on the registered scale) into the slot: no allocation. */
  clockNow(): void;
  umemCreate(frames: number, frameSize: number, headroom: number): { id: number; buffer: ArrayBuffer; hugepage: boolean };
  /** driver: ETHTOOL_GDRVINFO; txCsum: ETHTOOL_GTXCSUM (1 = tx-checksumming on). Absent when the driver lacks the op. */
  ifInfo(name: string): { ifindex: number; mac: Uint8Array; mtu?: number; driver?: string; txCsum?: number };
  /** The driver's statistics as `ethtool -S` prints them (SIOCETHTOOL); {} when it has none. */
  ethtoolStats(name: string): Record<string, number>;
  xskOpen(a: XskOpenArgs): { id: number; fd: number; zeroCopy: boolean; shared: boolean; notes: string[] };
  /** program: a compiled filter (src/bpf) linked instead of the redirect program; it redirects through its own XSKMAP. */
  xskAttach(id: number, skbMode: boolean, program?: XdpProgramFds): void;
  xskClose(id: number, out: Uint32Array): number;
  xskRx(id: number, max: number): number;
  xskFill(id: number, k: number): number;
  xskTx(id: number, n: number): number;
  xskComplete(id: number): number;
  xskStats(id: number): Record<string, number>;
  xskArmIrq(id: number, cb: () => void): void;
  xskDisarmIrq(id: number): void;
  xdpAttached(): Array<{ ifindex: number; mode: string; users: number; compiled: boolean }>;
  tapOpen(a: TapOpenArgs): { id: number; fd: number; name: string; notes: string[] };
  tapFill(id: number, k: number): number;
  tapRx(id: number, max: number): number;
  tapTx(id: number, n: number): number;
  tapFree(id: number): number;
  tapClose(id: number, out: Uint32Array): number;
  tapStats(id: number): Record<string, number>;
  tapArmIrq(id: number, cb: () => void): void;
  tapDisarmIrq(id: number): void;
  genLive(a: { ifindex: number; frame: Uint8Array; count: number; durationSec: number; batch: number }): Promise<{
    packets: number;
    seconds: number;
    errnum?: number;
  }>;
}

let addon: NativeAddon | null = null;

/** Path of the compiled addon; SOFTNET_ADDON overrides it (e.g. the ASan build of `npm run test:asan`). */
export const ADDON_PATH = process.env.SOFTNET_ADDON || resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/softnet.node');

/** The addon, loaded on first use. Throws a DriverError saying how to build it. */
export function native(): NativeAddon {
  if (addon !== null) return addon;
  try {
    // The exports object comes back in dictionary mode (39 properties set one by one), so each
    // `n.xskRx(...)` in the poll loop would be a megamorphic load: a fast-mode frozen copy instead.
    const loaded = createRequire(import.meta.url)(ADDON_PATH) as Record<string, unknown>;
    addon = Object.freeze(Object.fromEntries(Object.entries(loaded))) as unknown as NativeAddon;
  } catch (e) {
    throw new DriverError(
      `native addon ${ADDON_PATH} could not be loaded: ${(e as Error).message}`,
      'dlopen',
      (e as NodeJS.ErrnoException).code ?? 'ENOENT',
      'build it: `npm rebuild softnet` where softnet is installed, `npm run build` in a checkout (node-gyp; needs g++, make, python3)',
    );
  }
  return addon;
}

/** A UMEM allocated natively (mmap, MADV_HUGEPAGE) and seen by JS as one external ArrayBuffer. */
export function nativeUmem(frames = DEFAULT_FRAMES, frameSize = DEFAULT_FRAME_SIZE, headroom = DEFAULT_HEADROOM): Umem & { hugepage: boolean } {
  const r = call(() => native().umemCreate(frames, frameSize, headroom), {});
  return {
    buffer: r.buffer,
    u8: new Uint8Array(r.buffer),
    dv: new DataView(r.buffer),
    frameSize,
    frames,
    headroom,
    handle: r.id,
    hugepage: r.hugepage,
  };
}

/** Context for hints: which device/queue/mode the failing call was about. */
export interface ErrorContext {
  dev?: string;
  queue?: number;
  mode?: string;
  umemBytes?: number;
}

/** Run a native call, turning its errors into DriverErrors with hints. */
export function call<T>(fn: () => T, ctx: ErrorContext): T {
  try {
    return fn();
  } catch (e) {
    throw driverError(e, ctx);
  }
}

/** Pin the calling (poll-loop) thread to one CPU; V8's helper threads stay unpinned. */
export function pinThread(cpu: number): void {
  call(() => native().pinThread(cpu), {});
}

/** Queues a device has, from sysfs (rx-N directories); null when unknown. */
export function queueCount(dev: string): number | null {
  try {
    const q = readdirSync(`/sys/class/net/${dev}/queues`);
    const rx = q.filter((n) => n.startsWith('rx-')).length;
    const tx = q.filter((n) => n.startsWith('tx-')).length;
    return Math.max(rx, tx);
  } catch {
    return null;
  }
}

export function driverError(e: unknown, ctx: ErrorContext): DriverError {
  if (e instanceof DriverError) return e;
  const err = e as Error & { syscall?: string; errno?: string; detail?: string };
  const syscall = err.syscall ?? 'native';
  const errno = typeof err.errno === 'string' ? err.errno : 'EINVAL';
  const hint = hintFor(syscall, errno, ctx, err.detail ?? '');
  const where = ctx.dev !== undefined ? `${ctx.dev}${ctx.queue !== undefined ? ` queue ${ctx.queue}` : ''}${ctx.mode ? ` (${ctx.mode})` : ''}: ` : '';
  return new DriverError(`${where}${err.message}${hint ? ` — ${hint}` : ''}`, syscall, errno, hint);
}

/** What to do about a failed syscall. */
export function hintFor(syscall: string, errno: string, ctx: ErrorContext, detail = ''): string {
  const dev = ctx.dev ?? 'the device';
  const q = ctx.queue ?? 0;
  const perm = errno === 'EPERM' || errno === 'EACCES';
  if (syscall === 'if_nametoindex' || errno === 'ENODEV' || errno === 'ENXIO')
    return `no such interface: ${dev} (check \`ip link show\` in this network namespace)`;
  if (syscall === 'socket(AF_XDP)') {
    if (perm) return 'creating an AF_XDP socket needs CAP_NET_RAW (run as root, or grant cap_net_raw,cap_net_admin,cap_bpf,cap_ipc_lock)';
    if (errno === 'EAFNOSUPPORT') return 'this kernel has no AF_XDP (CONFIG_XDP_SOCKETS); use --mode tap';
  }
  if (syscall === 'setsockopt(XDP_UMEM_REG)' && (perm || errno === 'ENOBUFS' || errno === 'ENOMEM'))
    return `registering the UMEM${ctx.umemBytes ? ` (${ctx.umemBytes >> 10} KiB)` : ''} locks its pages: needs CAP_IPC_LOCK or a memlock limit at least that large (\`ulimit -l\`)`;
  if (syscall.startsWith('bpf(')) {
    if (perm) return 'bpf() needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN); run as root';
    if (syscall === 'bpf(BPF_LINK_CREATE)' && (errno === 'EBUSY' || errno === 'EEXIST'))
      return detail.includes('same mode')
        ? 'open every queue of a device in the same mode'
        : `${dev} already has an XDP program attached by someone else (see \`ip -d link show ${dev}\`; remove it with \`ip link set ${dev} xdp off\`)`;
    if (syscall === 'bpf(BPF_LINK_CREATE)' && (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP' || errno === 'EINVAL'))
      return ctx.mode === 'xdp-skb' ? `generic XDP refused on ${dev}` : `the driver of ${dev} has no native XDP: use --mode xdp-skb`;
    if (syscall === 'bpf(BPF_PROG_TEST_RUN)' && (errno === 'EINVAL' || errno === 'EOPNOTSUPP' || errno === 'ENOTSUP'))
      return 'this kernel or device cannot run live-frame XDP (needs kernel >= 5.18 and a driver with ndo_xdp_xmit; a veth peer needs GRO on or an XDP program)';
  }
  if (syscall === 'bind(AF_XDP)' || syscall === 'bind') {
    if (detail.startsWith('shared UMEM'))
      return 'every port sharing a UMEM runs in the same copy/zero-copy mode: open them all alike, or give this port its own UMEM';
    if (perm) return 'binding an AF_XDP socket needs CAP_NET_ADMIN';
    if (errno === 'EBUSY')
      return syscall === 'bind'
        ? `this process already has a socket on ${dev} queue ${q}`
        : `queue ${q} of ${dev} is taken by another AF_XDP socket, or a previous socket is still tearing down (retried with backoff for 1.5 s); pick another queue or stop the other user`;
    if (errno === 'EOPNOTSUPP' || errno === 'ENOTSUP')
      return ctx.mode === 'xdp-zc'
        ? `the driver of ${dev} has no AF_XDP zero-copy support (veth never has): use --mode xdp-drv`
        : `${dev} does not support AF_XDP in this mode`;
    if (errno === 'EINVAL') {
      const n = ctx.dev ? queueCount(ctx.dev) : null;
      if (n !== null && q >= n) return `queue ${q} out of range: ${dev} has ${n} queue${n === 1 ? '' : 's'} (0..${n - 1})`;
      return `the kernel rejected the bind of ${dev} queue ${q} (is the MTU larger than the frame size?)`;
    }
  }
  if (syscall === 'open(/dev/net/tun)') {
    if (errno === 'ENOENT') return 'TUN/TAP is not available: load it with `modprobe tun`';
    if (perm) return 'opening /dev/net/tun needs CAP_NET_ADMIN (run as root)';
  }
  if (syscall === 'ioctl(TUNSETIFF)') {
    if (perm) return 'creating or attaching a TAP needs CAP_NET_ADMIN (run as root)';
    if (errno === 'EINVAL') return `${dev} exists and is not a TAP device (pick another name)`;
    if (errno === 'EBUSY') return `TAP ${dev} is already open by another process (no multiqueue)`;
  }
  return '';
}

/** Sleep without the event loop (setup paths only: EBUSY backoff). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

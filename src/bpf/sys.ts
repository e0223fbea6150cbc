// The addon's bpf() calls for compiled programs (native/prog.cc), typed, with errors as
// DriverErrors (syscall, errno name, hint). Programs and maps are fds: whoever makes one closes it.
import { call, native } from '../driver/native.ts';

export type MapType = 'hash' | 'array' | 'percpu_array' | 'lru_hash' | 'percpu_hash' | 'lru_percpu_hash' | 'xskmap';

interface ProgAddon {
  bpfProgLoad(a: { insns: Uint8Array; name?: string; attach?: boolean; logLevel?: number }): { fd: number; log: string };
  bpfMapCreate(a: { type: MapType; keySize: number; valueSize: number; maxEntries: number; name?: string; flags?: number }): number;
  bpfMapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags?: number): void;
  bpfMapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean;
  bpfMapDelete(fd: number, key: Uint8Array): boolean;
  bpfMapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean;
  bpfMapFreeze(fd: number): void;
  bpfProgTestRun(a: { fd: number; data: Uint8Array; out?: Uint8Array; repeat?: number; ifindex?: number; queue?: number }): { retval: number; size: number; duration: number };
  bpfClose(fd: number): void;
}

/** The addon, with the calls of prog.cc; throws a DriverError saying to rebuild if it predates them. */
export function bpfAddon(): ProgAddon {
  const a = native() as unknown as Partial<ProgAddon>;
  if (typeof a.bpfProgLoad !== 'function')
    throw new Error('the native addon predates native/prog.cc (no bpfProgLoad): rebuild it (`npm run build`)');
  return a as ProgAddon;
}

/** BPF_F_RDONLY_PROG: the program may only read the map (constant tables). */
export const BPF_F_RDONLY_PROG = 1 << 7;

/** A verifier refusal: the errno and the verifier's log. */
export interface LoadFailure {
  errno: string;
  message: string;
  log: string;
}

export function progLoad(insns: Uint8Array, name: string, attach: boolean): { fd: number } | LoadFailure {
  const a = bpfAddon();
  try {
    return { fd: a.bpfProgLoad({ insns, name: name.slice(0, 15), attach }).fd };
  } catch (e) {
    const err = e as Error & { errno?: string; log?: string; syscall?: string };
    if (err.syscall === 'bpf(BPF_PROG_LOAD)' && (err.errno === 'EACCES' || err.errno === 'EINVAL') && err.log)
      return { errno: err.errno, message: err.message, log: err.log };
    throw call(() => {
      throw e;
    }, {});
  }
}

export function mapCreate(type: MapType, keySize: number, valueSize: number, maxEntries: number, name: string, flags = 0): number {
  return call(() => bpfAddon().bpfMapCreate({ type, keySize, valueSize, maxEntries, name: name.slice(0, 15), flags }), {});
}

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  call(() => bpfAddon().bpfMapUpdate(fd, key, value, flags), {});
}

export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  return call(() => bpfAddon().bpfMapLookup(fd, key, value), {});
}

export function mapDelete(fd: number, key: Uint8Array): boolean {
  return call(() => bpfAddon().bpfMapDelete(fd, key), {});
}

export function mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  return call(() => bpfAddon().bpfMapNextKey(fd, key, next), {});
}

export function mapFreeze(fd: number): void {
  call(() => bpfAddon().bpfMapFreeze(fd), {});
}

/** One frame through a loaded program (BPF_PROG_TEST_RUN): its verdict and the frame it leaves. */
export function testRun(fd: number, data: Uint8Array, out?: Uint8Array): { retval: number; size: number; duration: number } {
  return call(() => bpfAddon().bpfProgTestRun({ fd, data, out }), {});
}

export function closeFd(fd: number): void {
  if (fd >= 0) bpfAddon().bpfClose(fd);
}

/**
 * Opening a stack port (register_netdevice's part for one device queue): the driver port on the
 * stack's UMEM, the MAC softnet answers with, and csum_partial for veth peers. Stack.addPort
 * then adds the device, its addresses, VLANs and XDP filter. Control plane only.
 */
import type { NetDevice } from '../core/netdev.ts';
import { MemoryPort } from '../driver/memory.ts';
import type { XdpProgramFds } from '../driver/native.ts';
import { openPort } from '../driver/open.ts';
import type { FramePool } from '../driver/pool.ts';
import type { Port } from '../driver/port.ts';
import type { Umem } from '../driver/umem.ts';
import { linkCsumInfo, vethPeerWarning } from '../driver/veth-peer.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import { parseMac } from '../wire/addr.ts';
import type { AddPortOptions } from './types.ts';

/** What a port is opened on: the stack's UMEM, pool and vector size. */
export interface PortEnv {
  umem: Umem;
  pool: FramePool;
  batchSize: number;
  busyPoll: boolean;
  /** Ports opened so far (a memory port's default MAC counts them). */
  count: number;
  /** A compiled XDP filter to link instead of the redirect program. */
  program?: XdpProgramFds;
}

/** Open the port of `o`: a MemoryPort, or what openPort takes for the mode (AF_XDP, TAP). */
export function openStackPort(o: AddPortOptions, env: PortEnv): { port: Port; report: string[] } {
  if (o.mode === 'memory') {
    const mac = o.mac ? parseMac(o.mac) : memoryMac(env.count);
    return { port: new MemoryPort(o.dev, env.umem, env.pool, env.batchSize, 4096, mac), report: ['memory: ok'] };
  }
  return openPort({
    name: o.name,
    dev: o.dev,
    queue: o.queue ?? 0,
    mode: o.mode ?? 'auto',
    umem: env.umem,
    pool: env.pool,
    batchSize: env.batchSize,
    busyPoll: env.busyPoll,
    program: env.program,
  });
}

/**
 * The MAC softnet uses on a port device: the configured one, else the device's. A TAP's own MAC
 * is the kernel side's: softnet is the other end of the wire and needs its own address, or the
 * kernel would see its MAC as both source and destination.
 */
export function setPortMac(dev: NetDevice, o: AddPortOptions, port: Port): void {
  if (o.mac) (dev as { mac: Uint8Array }).mac = parseMac(o.mac);
  else if (port.mode === 'tap') (dev as { mac: Uint8Array }).mac = tapPeerMac(port.mac);
}

/**
 * csum_partial for a new port: on for veth (auto) or when asked; a start-up warning naming the
 * veth peer and the ethtool command when the peer has (or may have) tx checksumming on.
 * Call before adding VLANs: they inherit the port's flag.
 */
export function csumPartialSetup(ipv4: Ipv4, o: AddPortOptions, dev: NetDevice, port: Port, report: string[], log: (line: string) => void): void {
  const mode = o.csum_partial ?? 'auto';
  const info = port.mode === 'memory' ? {} : linkCsumInfo(port.dev);
  const on = mode === 'on' || (mode === 'auto' && info.driver === 'veth');
  ipv4.ipRcv.csumPartial.set(dev.index, on);
  const w = info.peer === undefined ? '' : vethPeerWarning(o.name, port.dev, info.peer, on);
  const note = w === '' ? '' : '; peer sends partial checksums, see the warning';
  report.push(`csum_partial: ${on ? 'on' : 'off'} (${mode}${info.driver !== undefined ? `, driver ${info.driver}` : ''}${note})`);
  // Once, through the stack's log (stderr by default): the port line only points at it.
  if (w !== '') log(`softnet: warning: ${w}`);
}

/** Locally administered MAC for a TAP port's softnet end, derived from the TAP's. */
function tapPeerMac(tap: Uint8Array): Uint8Array {
  const m = new Uint8Array(tap);
  m[0] = (m[0] | 0x02) & 0xfe;
  m[5] ^= 0x01;
  return m;
}

function memoryMac(i: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x01, i & 0xff]);
}

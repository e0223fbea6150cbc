/**
 * The transport sysctls, by their /proc/sys names: net.core.rmem_default / rmem_max (a socket's
 * receive buffer), net.core.wmem_default / wmem_max (its send buffer), net.ipv4.ip_local_port_range
 * (ephemeral ports), and softnet's own net.core.sock_frames_max (frames all sockets together may
 * hold; the kernel bounds socket memory per protocol in pages with udp_mem/tcp_mem, softnet bounds
 * what the NIC needs back: UMEM frames). One object shared by UDP and TCP. Control plane only.
 */

export interface TransportSysctl {
  /** SO_RCVBUF of a new socket, bytes (Linux: 212992). */
  rmem_default: number;
  /** Largest SO_RCVBUF a socket may ask for (the kernel doubles the request, as here). */
  rmem_max: number;
  /** SO_SNDBUF of a new socket, bytes. */
  wmem_default: number;
  wmem_max: number;
  /** Ephemeral ports: [lo, hi] inclusive (Linux: 32768 60999). */
  ip_local_port_range: [number, number];
  /** Frames all sockets may hold in their queues (default: a quarter of the pool). */
  sock_frames_max: number;
}

export function defaultTransportSysctl(poolFrames: number): TransportSysctl {
  return {
    rmem_default: 212992,
    rmem_max: 212992,
    wmem_default: 212992,
    wmem_max: 212992,
    ip_local_port_range: [32768, 60999],
    sock_frames_max: Math.max(1, poolFrames >>> 2),
  };
}

/** The /proc/sys directory of each key (net.core.X or net.ipv4.X). */
const PREFIX: Record<keyof TransportSysctl, string> = {
  rmem_default: 'net.core.',
  rmem_max: 'net.core.',
  wmem_default: 'net.core.',
  wmem_max: 'net.core.',
  ip_local_port_range: 'net.ipv4.',
  sock_frames_max: 'net.core.',
};

/**
 * The key a name means, or null when it is not a transport sysctl: `rmem_max`,
 * `net.core.rmem_max` and `net/core/rmem_max` are the same key.
 */
export function transportSysctlKey(name: string): keyof TransportSysctl | null {
  const n = name.replace(/\//g, '.');
  for (const k of Object.keys(PREFIX) as Array<keyof TransportSysctl>) {
    if (n === k || n === PREFIX[k] + k) return k;
  }
  return null;
}

/** Read, or set then read, a transport sysctl. The port range reads back as `LO\tHI` (as /proc prints it). */
export function transportSysctl(s: TransportSysctl, key: keyof TransportSysctl, value?: number | string): number | string {
  if (value !== undefined) {
    if (key === 'ip_local_port_range') s.ip_local_port_range = parseRange(value);
    else {
      const v = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(v) || v < 0) throw new Error(`sysctl: ${PREFIX[key]}${key} wants a non-negative integer, got "${value}"`);
      if (key === 'sock_frames_max' && v < 1) throw new Error(`sysctl: ${PREFIX[key]}${key} must be at least 1`);
      s[key] = v;
    }
  }
  if (key === 'ip_local_port_range') return `${s.ip_local_port_range[0]}\t${s.ip_local_port_range[1]}`;
  return s[key];
}

function parseRange(v: number | string): [number, number] {
  const w = String(v).trim().split(/\s+/);
  const lo = Number(w[0]);
  const hi = Number(w[1]);
  if (w.length !== 2 || !Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) {
    throw new Error(`sysctl: net.ipv4.ip_local_port_range wants "LO HI" with 1 <= LO <= HI <= 65535, got "${v}"`);
  }
  return [lo, hi];
}

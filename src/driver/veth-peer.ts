// What a port's device says about partial checksums: its driver (ETHTOOL_GDRVINFO through the
// addon's ifInfo) and, for veth, its peer and whether the peer has tx checksumming on. Setup code
// only (it may read sysfs and run `ip`/`ethtool`); nothing here runs per packet.
//
// Why these sources: the driver name needs no tool and is exact (ETHTOOL_GDRVINFO, the same ioctl
// `ethtool -i` uses); the peer's ifindex is /sys/class/net/DEV/iflink. Whether the peer is in
// another namespace (IFLA_LINK_NETNSID) is not in sysfs, so `ip -j -d link` is asked, and a peer
// in another namespace is looked at through `ip -n`/`ip netns exec` when that namespace has a
// name under /run/netns. Everything past the driver name is best effort: a missing tool or an
// unnamed namespace turns "has" into "may" in the warning, never into an error.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { native } from './native.ts';

export interface VethPeer {
  /** Peer interface index (in its own namespace). */
  ifindex: number;
  /** Peer name, when it could be found. */
  name?: string;
  /** Set when the peer is in another network namespace (IFLA_LINK_NETNSID). */
  netnsid?: number;
  /** Name of that namespace under /run/netns, when it has one. */
  netns?: string;
  /** Peer's tx-checksumming: 1 on, 0 off, undefined = could not be read. */
  txCsum?: number;
}

export interface LinkCsumInfo {
  /** Driver name (ETHTOOL_GDRVINFO), undefined when the device has no get_drvinfo. */
  driver?: string;
  /** For veth devices: the other end. */
  peer?: VethPeer;
}

/** Driver of `dev` and, for veth, its peer. Never throws for a device that exists. */
export function linkCsumInfo(dev: string): LinkCsumInfo {
  let driver: string | undefined;
  try {
    driver = native().ifInfo(dev).driver;
  } catch {
    return {};
  }
  if (driver !== 'veth') return { driver };
  const peer: VethPeer = { ifindex: readInt(`/sys/class/net/${dev}/iflink`) };
  const link = ipJson(['-d', 'link', 'show', 'dev', dev])?.[0] as { link_netnsid?: number } | undefined;
  if (link !== undefined && typeof link.link_netnsid === 'number') {
    peer.netnsid = link.link_netnsid;
    const ns = (ipJson(['netns', 'list']) as Array<{ name?: string; id?: number }> | null)?.find((n) => n.id === peer.netnsid);
    if (ns?.name !== undefined) {
      peer.netns = ns.name;
      const l = (ipJson(['-n', ns.name, 'link', 'show']) as Array<{ ifindex?: number; ifname?: string }> | null)?.find((x) => x.ifindex === peer.ifindex);
      if (l?.ifname !== undefined) {
        peer.name = l.ifname;
        peer.txCsum = ethtoolTx(peer.name, ns.name);
      }
    }
  } else if (link !== undefined || peer.ifindex > 0) {
    // Same namespace (or `ip` missing: then a local device with that index that is a veth
    // pointing back at us is taken as the peer).
    const name = nameOfIndex(peer.ifindex);
    if (name !== undefined) {
      let back = -1;
      try {
        back = readInt(`/sys/class/net/${name}/iflink`);
        const pi = native().ifInfo(name);
        if (pi.driver === 'veth' && back === native().ifInfo(dev).ifindex) {
          peer.name = name;
          peer.txCsum = pi.txCsum;
        }
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return { driver, peer };
}

/**
 * The start-up warning for a veth port whose peer has (or may have) tx checksumming on, or ''
 * when the peer is known to checksum in software. `completing`: whether softnet completes
 * partial checksums on this port (csum_partial on).
 */
export function vethPeerWarning(port: string, dev: string, peer: VethPeer, completing: boolean): string {
  if (peer.txCsum === 0) return '';
  const where = peer.netnsid === undefined ? '' : peer.netns !== undefined ? ` in netns ${peer.netns} (netnsid ${peer.netnsid})` : ` in another netns (netnsid ${peer.netnsid}, no name under /run/netns)`;
  const who = peer.name !== undefined ? `${peer.name}${where}` : `ifindex ${peer.ifindex}${where}`;
  const has = peer.txCsum === 1 ? 'has tx checksumming on' : `may have tx checksumming on (veth's default; softnet could not read its features${peer.netnsid !== undefined ? ' across namespaces' : ''})`;
  const name = peer.name ?? '<peer>';
  const cmd =
    peer.netns !== undefined
      ? `ip netns exec ${peer.netns} ethtool -K ${name} tx off`
      : peer.netnsid !== undefined
        ? `nsenter --net=<that namespace> ethtool -K ${name} tx off`
        : `ethtool -K ${name} tx off`;
  const what = completing
    ? 'softnet completes them meanwhile (counted as csum_partial_completed in `softnet stat`)'
    : 'csum_partial is off on this port, so those frames leave with a wrong checksum and their receivers drop them';
  return `port ${port} (${dev}): veth peer ${who} ${has}: the kernel then hands over TCP/UDP with partial checksums; ${what}. To checksum in the sender instead: ${cmd}`;
}

function readInt(path: string): number {
  try {
    return Number.parseInt(readFileSync(path, 'utf8').trim(), 10) || 0;
  } catch {
    return 0;
  }
}

function nameOfIndex(ifindex: number): string | undefined {
  try {
    for (const n of readdirSync('/sys/class/net')) if (readInt(`/sys/class/net/${n}/ifindex`) === ifindex) return n;
  } catch {
    /* no sysfs */
  }
  return undefined;
}

function ipJson(args: string[]): unknown[] | null {
  try {
    const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
    const v = JSON.parse(out.trim() === '' ? '[]' : out) as unknown;
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function ethtoolTx(dev: string, netns: string): number | undefined {
  try {
    const out = execFileSync('ip', ['netns', 'exec', netns, 'ethtool', '-k', dev], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /^tx-checksumming:\s+(on|off)/m.exec(out);
    return m === null ? undefined : m[1] === 'on' ? 1 : 0;
  } catch {
    return undefined;
  }
}

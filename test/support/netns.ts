// Namespaces and veth pairs for the integration tests, created through `ip` and always removed by
// Lab.cleanup() (called from afterAll, also after failures). Every name carries the softnet
// prefix: namespaces `sn-<tag>`, links `sn...` (at most 15 characters).
//
// The commands here are synchronous: for setup, and for short reads while a port or a stack in
// this process keeps running (a few ms of a blocked event loop). What must not block softnet's
// event loop for long goes through nsExec/spawnInNs of src/tools/lab.ts.
import { execFileSync, spawnSync } from 'node:child_process';

/** Run argv in namespace ns (null: the root namespace); its stdout. Throws with stderr on failure. */
export function run(ns: string | null, ...argv: string[]): string {
  const full = ns === null ? argv : ['ip', 'netns', 'exec', ns, ...argv];
  return execFileSync(full[0], full.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function ip(...args: string[]): string {
  return run(null, 'ip', ...args);
}

/** Interface counter from sysfs inside a namespace (or the root one when ns is null). */
export function ifStat(ns: string | null, dev: string, name: string): number {
  return Number(run(ns, 'cat', `/sys/class/net/${dev}/statistics/${name}`).trim());
}

export function macOf(ns: string | null, dev: string): string {
  const args = ['-j', 'link', 'show', 'dev', dev];
  const out = ns === null ? ip(...args) : ip('-n', ns, ...args);
  return (JSON.parse(out) as Array<{ address: string }>)[0].address;
}

/** Does `dev` (root namespace) have an XDP program attached, in any mode? False if there is no such device. */
export function hasXdp(dev: string): boolean {
  const r = spawnSync('ip', ['-d', 'link', 'show', 'dev', dev], { encoding: 'utf8' });
  return r.status === 0 && /\bxdp/.test(r.stdout);
}

/** Namespaces whose names start with prefix. */
export function namespaces(prefix: string): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.length > 0 && n.startsWith(prefix));
}

/** A link name a test may create: the softnet prefix, and short enough for Linux (IFNAMSIZ). */
function checkDev(name: string): string {
  if (!/^sn[a-z0-9-]+$/.test(name) || name.length > 15) throw new Error(`test link name '${name}': use sn[a-z0-9-], at most 15 characters`);
  return name;
}

/** One side of a routed lab: a router end and a host end of a veth pair (see Lab.routerLink). */
export interface RouterLinkSpec {
  /** The router's end: softnet's port in the root namespace (no address, IPv6 off), or a Linux router's interface in routerNs (net.1/plen). */
  dev: string;
  routerNs?: string | null;
  /** The host's end, in hostNs at net.2/plen with a default route via net.1. */
  hostDev: string;
  hostNs: string;
  /** The first three octets, e.g. '10.1.0'. */
  net: string;
  plen?: number;
  /** MAC addresses of the two ends (default: the kernel's random ones). */
  mac?: string;
  hostMac?: string;
}

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly made: string[] = [];

  /** A namespace named `sn-<tag>`, lo up; a leftover of a killed run is replaced. */
  netns(tag: string): string {
    const name = `sn-${tag}`;
    spawnSync('ip', ['netns', 'del', name]);
    ip('netns', 'add', name);
    this.namespaces.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /**
   * A veth pair: `host` stays in the root namespace (up, no address), `peer` goes into `ns` with
   * address peerIp/24, up. A permanent neighbour entry for hostIp means no ARP is needed.
   */
  veth(host: string, peer: string, ns: string, hostIp: string, peerIp: string): { hostMac: string; peerMac: string } {
    checkDev(host);
    checkDev(peer);
    spawnSync('ip', ['link', 'del', host]); // a leftover of a killed run (our name only)
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    this.links.push(host);
    ip('link', 'set', peer, 'netns', ns);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${peerIp}/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    const hostMac = macOf(null, host);
    ip('-n', ns, 'neigh', 'replace', hostIp, 'lladdr', hostMac, 'dev', peer, 'nud', 'permanent');
    return { hostMac, peerMac: macOf(ns, peer) };
  }

  /**
   * A router end and a host end (see RouterLinkSpec), txqueuelen 10000 (the default 1000 drops
   * under load). GRO on both ends gives each the NAPI context XDP_TX/redirect into a veth needs;
   * the host checksums in software (tx off), so its frames carry full checksums.
   */
  routerLink(s: RouterLinkSpec): void {
    const rNs = s.routerNs ?? null;
    const plen = s.plen ?? 24;
    checkDev(s.dev);
    checkDev(s.hostDev);
    spawnSync('ip', ['link', 'del', s.dev]); // a leftover of a killed run (our name only)
    const mac = (m?: string) => (m === undefined ? [] : ['address', m]);
    ip('link', 'add', s.dev, ...mac(s.mac), 'txqueuelen', '10000', 'type', 'veth', 'peer', 'name', s.hostDev, ...mac(s.hostMac), 'txqueuelen', '10000');
    this.links.push(s.dev);
    ip('link', 'set', s.hostDev, 'netns', s.hostNs);
    if (rNs !== null) ip('link', 'set', s.dev, 'netns', rNs);
    // The root kernel must stay silent on softnet's ends (no IPv6 DAD/RS).
    else run(null, 'sysctl', '-qw', `net.ipv6.conf.${s.dev}.disable_ipv6=1`);
    run(rNs, 'ethtool', '-K', s.dev, 'gro', 'on');
    run(s.hostNs, 'ethtool', '-K', s.hostDev, 'gro', 'on', 'tx', 'off');
    run(s.hostNs, 'ip', 'addr', 'add', `${s.net}.2/${plen}`, 'dev', s.hostDev);
    run(s.hostNs, 'ip', 'link', 'set', s.hostDev, 'up');
    if (rNs !== null) run(rNs, 'ip', 'addr', 'add', `${s.net}.1/${plen}`, 'dev', s.dev);
    run(rNs, 'ip', 'link', 'set', s.dev, 'up');
    run(s.hostNs, 'ip', 'route', 'replace', 'default', 'via', `${s.net}.1`);
  }

  /** Remember a link created elsewhere (e.g. a TAP) so cleanup() deletes it. */
  track(dev: string): void {
    this.links.push(checkDev(dev));
  }

  /** Deletes everything this lab made; returns the names that are still there (should be none). */
  cleanup(): string[] {
    for (const l of this.links.splice(0)) {
      this.made.push(l);
      spawnSync('ip', ['link', 'del', l]);
    }
    for (const n of this.namespaces.splice(0)) {
      this.made.push(n);
      spawnSync('ip', ['netns', 'del', n]);
    }
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    const nss = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    return this.made.filter((x) => new RegExp(`(^|\\s)${x}[@:\\s]`, 'm').test(links) || new RegExp(`^${x}( |$)`, 'm').test(nss));
  }
}

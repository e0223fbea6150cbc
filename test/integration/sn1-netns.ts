// Test helper for the driver tests: namespaces and links with the `sn1` prefix, created through
// `ip`, always removed by cleanup() (called from afterAll, also after failures).
import { execFileSync, spawn, spawnSync } from 'node:child_process';

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function ip(...args: string[]): string {
  return sh('ip', args);
}

export function nsExec(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** Interface counter from sysfs inside a namespace (or the root one when ns is null). */
export function ifStat(ns: string | null, dev: string, name: string): number {
  const path = `/sys/class/net/${dev}/statistics/${name}`;
  const out = ns === null ? sh('cat', [path]) : nsExec(ns, 'cat', path);
  return Number(out.trim());
}

export function macOf(ns: string | null, dev: string): string {
  const args = ['-j', 'link', 'show', 'dev', dev];
  const out = ns === null ? ip(...args) : ip('-n', ns, ...args);
  return (JSON.parse(out) as Array<{ address: string }>)[0].address;
}

/** Does `dev` (root namespace) have any XDP program attached? */
export function hasXdp(dev: string): boolean {
  const r = spawnSync('ip', ['-d', 'link', 'show', 'dev', dev], { encoding: 'utf8' });
  return /prog\/xdp|xdpgeneric|xdpdrv|xdp id|xdpoffload/.test(r.stdout);
}

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];

  /** A namespace named `sn1-<tag>`. */
  netns(tag: string): string {
    const name = `sn1-${tag}`;
    if (!name.startsWith('sn1-')) throw new Error('prefix');
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
    if (!host.startsWith('sn1') || !peer.startsWith('sn1') || host.length > 15 || peer.length > 15) throw new Error('bad name');
    spawnSync('ip', ['link', 'del', host]);
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

  /** Remember a link created elsewhere (e.g. a TAP) so cleanup() deletes it. */
  track(dev: string): void {
    this.links.push(dev);
  }

  private readonly made: string[] = [];

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

/**
 * Send `count` UDP datagrams from inside `ns` through an ordinary kernel socket, paced so a
 * receiver on a shared 2-core machine can keep up. Asynchronous: the receiver in this process
 * keeps running on the event loop meanwhile.
 */
export function udpBlast(ns: string, dstIp: string, dport: number, count: number, payload = 18): Promise<void> {
  const py = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    `d = (${JSON.stringify(dstIp)}, ${dport}); p = b"x" * ${payload}`,
    `for i in range(${count}):`,
    '    while True:',
    '        try:',
    '            s.sendto(p, d); break',
    '        except BlockingIOError: time.sleep(0.001)',
    '        except OSError: time.sleep(0.001)',
    '    if i % 128 == 127: time.sleep(0.0004)',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill(), 120_000);
    c.on('error', reject);
    c.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`udpBlast exited ${code}: ${err}`));
    });
  });
}

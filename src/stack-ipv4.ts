/**
 * The Stack's IPv4 glue: owns the FIB and the control-plane verbs around it (`ip route
 * add|del|replace|show|get|flush`, `ip addr add`, sysctls, iptables lines), and registers the
 * IPv4 stages with the graph. Kept out of stack.ts so that file reads as the wiring diagram.
 */
import type { Graph } from './core/graph.ts';
import type { NetDevice, NetDevices } from './core/netdev.ts';
import type { PtypeTable } from './core/ptype.ts';
import { formatIPv4, parseCidr, tryParseIPv4 } from './ipv4/addr.ts';
import { formatRoute, parseRoute, parseRouteMatch, RTN_BROADCAST, RTN_LOCAL } from './ipv4/fib/fib.ts';
import { registerIpv4, type Ipv4 } from './ipv4/index.ts';
import { Netfilter } from './ipv4/netfilter/netfilter.ts';

export class Ipv4Layer {
  readonly ip: Ipv4;
  readonly nf: Netfilter;

  /** Adds the IPv4 stages to the graph now (so they come before L2 and dev-xmit in a pass). */
  constructor(
    readonly graph: Graph,
    readonly devs: NetDevices,
    readonly ptype: PtypeTable,
    sysctl: Record<string, number | string>,
  ) {
    this.ip = registerIpv4(graph, devs, ptype);
    this.nf = new Netfilter(
      (n) => devs.find(n)?.index ?? -1,
      (i) => devs.list[i]?.name ?? `#${i}`,
    );
    this.ip.setNetfilter(this.nf);
    // Skip hooks without rules: an empty ruleset costs one byte test per packet.
    this.ip.refreshHooks();
    for (const [k, v] of Object.entries(sysctl)) this.sysctl(k, v);
  }

  get fib() {
    return this.ip.fib;
  }

  /** Hook the IPv4 layer to the neighbour layer (nothing needed yet). */
  addAddress(dev: NetDevice, cidr: string): void {
    const c = parseCidr(cidr);
    const addr = tryParseIPv4(cidr.split('/')[0]);
    if (addr === null) throw new Error(`ip addr: "${cidr}" is not an IPv4 address`);
    if (dev.addrs.some((a) => a.addr === addr)) throw new Error(`ip addr: ${cidr} is on ${dev.name} already (RTNETLINK answers: File exists)`);
    this.ip.addAddress(dev.index, addr, c.len);
  }

  route(cmd: string): string {
    const w = cmd.trim().split(/\s+/).filter((x) => x !== '');
    const verb = w.shift() ?? 'show';
    const rest = w.join(' ');
    const devIndex = (n: string) => this.devs.find(n)?.index ?? -1;
    switch (verb) {
      case 'add':
      case 'a':
        this.fib.add(parseRoute(rest, devIndex));
        return '';
      case 'replace':
      case 'change':
        this.fib.replace(parseRoute(rest, devIndex));
        return '';
      case 'del':
      case 'delete':
      case 'd':
        this.fib.del(parseRouteMatch(rest, devIndex));
        return '';
      case 'show':
      case 'list':
      case 'ls':
      case 'lst':
        return this.showRoutes(rest);
      case 'get': {
        const a = tryParseIPv4(w[0] === 'to' ? (w[1] ?? '') : (w[0] ?? ''));
        if (a === null) throw new Error(`Error: "${w[0] ?? ''}" is not an IPv4 address (usage: route get ADDR)`);
        const r = this.fib.route(a);
        if (r === undefined) throw new Error('RTNETLINK answers: Network is unreachable');
        return `${formatIPv4(a)} ${formatRoute(r, (i) => this.devs.list[i]?.name ?? `#${i}`)}`;
      }
      case 'flush': {
        let k = 0;
        for (const r of this.fib.list()) {
          if (r.proto === 'kernel') continue;
          this.fib.del(r);
          k++;
        }
        return `flushed ${k} routes`;
      }
      default:
        throw new Error(`Command "${verb}" is unknown, try "route add|del|replace|show|get|flush"`);
    }
  }

  /**
   * `ip route show [table main|local|all]`: like Linux, local and broadcast routes live in the
   * local table and are not shown by default.
   */
  showRoutes(args = ''): string {
    const m = /^table\s+(\S+)$/.exec(args.trim());
    if (args.trim() !== '' && !m) throw new Error(`Error: "${args.trim()}" is unknown, try "route show [table main|local|all]"`);
    const table = m ? m[1] : 'main';
    if (!['main', 'local', 'all'].includes(table)) throw new Error(`Error: argument "${table}" is wrong: table id value is invalid (main|local|all)`);
    return this.fib
      .list()
      .filter((r) => table === 'all' || (table === 'local') === (r.type === RTN_LOCAL || r.type === RTN_BROADCAST))
      .map((r) => formatRoute(r, (i) => this.devs.list[i]?.name ?? `#${i}`))
      .join('\n');
  }

  /** One iptables command; hooks that became (non-)empty are switched on/off at once. */
  iptables(line: string): string {
    const out = this.nf.exec(line.replace(/^\s*iptables\s+/, ''));
    this.ip.refreshHooks();
    return out;
  }

  sysctl(name: string, value?: number | string): number | string {
    const k = name.replace(/^net\.ipv4\./, '').replace(/\//g, '.');
    if (value !== undefined) this.ip.setSysctl(k, value);
    const v = (this.ip.sysctl as unknown as Record<string, number>)[k];
    if (v === undefined) throw new Error(`sysctl: unknown key net.ipv4.${k}`);
    return v;
  }

  /** Reassembly timeouts. */
  tick(): void {
    this.ip.expire();
  }

  clear(): void {
    this.ip.close();
  }

  framesHeld(): number {
    return this.ip.held();
  }

  mib(): Record<string, Record<string, number>> {
    return this.ip.mib.toJSON();
  }
}

/**
 * The stack's IPv4 wiring: inet_init with netfilter tables attached, and the text commands a
 * person types against it (`ip route add|del|replace|show|get|flush`, `ip addr add`, an
 * iptables line, a sysctl by its Linux name). The layer object itself is ipv4/index.ts's Ipv4
 * (`stack.ipv4`); these are functions over it so stack.ts reads as the wiring diagram.
 * Control plane only.
 */
import type { Graph } from '../core/graph.ts';
import type { NetDevice, NetDevices } from '../core/netdev.ts';
import type { PtypeTable } from '../core/ptype.ts';
import { formatIPv4, parseCidr, parseIPv4, tryParseIPv4 } from '../wire/addr.ts';
import { formatRoute, parseRoute, parseRouteMatch, RTN_BROADCAST, RTN_LOCAL } from '../ipv4/fib/fib.ts';
import { registerIpv4, type Ipv4 } from '../ipv4/index.ts';
import { conntrackCommand, type ConntrackOutput } from '../ipv4/conntrack/dump.ts';
import { Netfilter } from '../ipv4/netfilter/netfilter.ts';

/** Add the IPv4 stages to the graph now (so they come before L2 and dev-xmit in a pass), with netfilter's tables. */
export function wireIpv4(graph: Graph, devs: NetDevices, ptype: PtypeTable): { ipv4: Ipv4; netfilter: Netfilter } {
  const ipv4 = registerIpv4(graph, devs, ptype);
  const netfilter = new Netfilter(devIndex(devs), devName(devs));
  ipv4.setNetfilter(netfilter);
  // Skip hooks without rules: an empty ruleset costs one byte test per packet.
  ipv4.refreshHooks();
  return { ipv4, netfilter };
}

/** `ip addr add CIDR dev DEV`: the address plus its local, connected and broadcast routes. */
export function ipAddrAdd(ipv4: Ipv4, dev: NetDevice, cidr: string): void {
  const c = parseCidr(cidr);
  // parseCidr checked the address; its prefix is masked, the address itself is wanted here.
  const addr = parseIPv4(cidr.split('/')[0]);
  if (dev.addrs.some((a) => a.addr === addr)) throw new Error(`ip addr: ${cidr} is on ${dev.name} already (RTNETLINK answers: File exists)`);
  ipv4.addAddress(dev.index, addr, c.len);
}

/** iproute2 `ip route` words after `route`: `add|del|replace|show|get|flush ...`. Returns what show/get/flush print. */
export function ipRoute(ipv4: Ipv4, devs: NetDevices, cmd: string): string {
  const fib = ipv4.fib;
  const w = cmd.trim().split(/\s+/).filter((x) => x !== '');
  const verb = w.shift() ?? 'show';
  const rest = w.join(' ');
  const index = devIndex(devs);
  switch (verb) {
    case 'add':
    case 'a':
      fib.add(parseRoute(rest, index));
      return '';
    case 'replace':
    case 'change':
      fib.replace(parseRoute(rest, index));
      return '';
    case 'del':
    case 'delete':
    case 'd':
      fib.del(parseRouteMatch(rest, index));
      return '';
    case 'show':
    case 'list':
    case 'ls':
    case 'lst':
      return showRoutes(ipv4, devs, rest);
    case 'get': {
      const a = tryParseIPv4(w[0] === 'to' ? (w[1] ?? '') : (w[0] ?? ''));
      if (a === null) throw new Error(`Error: "${w[0] ?? ''}" is not an IPv4 address (usage: route get ADDR)`);
      const r = fib.route(a);
      if (r === undefined) throw new Error('RTNETLINK answers: Network is unreachable');
      return `${formatIPv4(a)} ${formatRoute(r, devName(devs))}`;
    }
    case 'flush': {
      let k = 0;
      for (const r of fib.list()) {
        if (r.proto === 'kernel') continue;
        fib.del(r);
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
function showRoutes(ipv4: Ipv4, devs: NetDevices, args: string): string {
  const m = /^table\s+(\S+)$/.exec(args.trim());
  if (args.trim() !== '' && !m) throw new Error(`Error: "${args.trim()}" is unknown, try "route show [table main|local|all]"`);
  const table = m ? m[1] : 'main';
  if (!['main', 'local', 'all'].includes(table)) throw new Error(`Error: argument "${table}" is wrong: table id value is invalid (main|local|all)`);
  return ipv4.fib
    .list()
    .filter((r) => table === 'all' || (table === 'local') === (r.type === RTN_LOCAL || r.type === RTN_BROADCAST))
    .map((r) => formatRoute(r, devName(devs)))
    .join('\n');
}

/** `conntrack -L|-S|-C|-F|-D ...` over the stack's table (ipv4/conntrack/dump.ts). */
export function conntrack(ipv4: Ipv4, words: readonly string[]): ConntrackOutput {
  return conntrackCommand(ipv4.conntrackIfMade(), words);
}

/** One iptables command; hooks that became (non-)empty are switched on/off at once. */
export function iptables(ipv4: Ipv4, netfilter: Netfilter, line: string): string {
  const out = netfilter.exec(line.replace(/^\s*iptables\s+/, ''));
  ipv4.refreshHooks();
  return out;
}

/** `iptables-restore [--noflush]`: whole tables from iptables-save text, all or nothing; then the hooks as for a rule. */
export function iptablesRestore(ipv4: Ipv4, netfilter: Netfilter, text: string, noflush: boolean): void {
  try {
    netfilter.restore(text, noflush);
  } finally {
    ipv4.refreshHooks();
  }
}

/** Read, or set then read, a sysctl by its Linux name (`ip_forward`, `net.ipv4.icmp_ratelimit`, `net.netfilter.nf_conntrack_max`). */
export function ipv4Sysctl(ipv4: Ipv4, name: string, value?: number | string): number | string {
  // net/ipv4/ip_forward is the /proc/sys spelling of net.ipv4.ip_forward: dots first, then the prefix.
  const ct = ipv4.conntrackSysctl(name, value);
  if (ct !== null) return ct;
  const k = name.replace(/\//g, '.').replace(/^net\.ipv4\./, '');
  if (value !== undefined) ipv4.setSysctl(k, value);
  const v = (ipv4.sysctl as unknown as Record<string, number>)[k];
  if (v === undefined) throw new Error(`sysctl: unknown key net.ipv4.${k}`);
  return v;
}

function devName(devs: NetDevices): (i: number) => string {
  return (i) => devs.list[i]?.name ?? `#${i}`;
}

function devIndex(devs: NetDevices): (name: string) => number {
  return (n) => devs.find(n)?.index ?? -1;
}

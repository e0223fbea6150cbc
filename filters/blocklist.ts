// Example XDP-style filter: drop UDP datagrams to blocked destination ports, pass the rest.
// Use:   xdp: ./filters/blocklist.ts   (ports from SOFTNET_BLOCKLIST="53,11211", else the defaults)
// or, embedded:  hook.attach(dev, createBlocklist([53, 11211]))
import { XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';

const IPPROTO_UDP = 17;
// Commonly abused UDP services (reflection/amplification): chargen, SSDP, memcached.
const DEFAULT_PORTS = [19, 1900, 11211];

export interface Blocklist {
  (ctx: XdpContext): number;
  /** One byte per port: 1 = blocked. Edit at runtime: block()/unblock(). */
  readonly ports: Uint8Array;
  block(port: number): void;
  unblock(port: number): void;
}

export function createBlocklist(ports: Iterable<number> = DEFAULT_PORTS): Blocklist {
  const table = new Uint8Array(65536);
  const check = (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`blocklist: ${p} is not a UDP port (0..65535)`);
    return p;
  };
  for (const p of ports) table[check(p)] = 1;
  // One table read per UDP packet; non-UDP and truncated frames pass (the stack validates them).
  const filter = ((ctx: XdpContext): number => {
    if (ctx.ipProto() !== IPPROTO_UDP) return XDP_PASS;
    const d = ctx.l4Dport();
    return d >= 0 && table[d] === 1 ? XDP_DROP : XDP_PASS;
  }) as Blocklist;
  Object.assign(filter, {
    ports: table,
    block: (p: number) => void (table[check(p)] = 1),
    unblock: (p: number) => void (table[check(p)] = 0),
  });
  return filter;
}

function fromEnv(): number[] {
  const s = process.env.SOFTNET_BLOCKLIST;
  if (s === undefined || s.trim() === '') return DEFAULT_PORTS;
  return s.split(',').map((x) => {
    const p = Number(x.trim());
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`blocklist: SOFTNET_BLOCKLIST has "${x}", not a port (0..65535)`);
    return p;
  });
}

export default createBlocklist(fromEnv());

// Example XDP filter: drop UDP datagrams to blocked destination ports, pass the rest.
// Use:   xdp: ./filters/blocklist.ts   (JS), or  xdp: {module: ./filters/blocklist.ts, offload: auto}
//        (compiled to eBPF, run in the driver); ports from SOFTNET_BLOCKLIST="53,11211", else the defaults.
// Edit at run time through the map: blocked.set(53, 1) — when compiled, that is the kernel's map.
// Or, embedded:  hook.attach(dev, createBlocklist([53, 11211]))
import { XDP_DROP, XDP_PASS, defineMap, type XdpContext, type XdpMap } from 'softnet/xdp';

const IPPROTO_UDP = 17;
// Commonly abused UDP services (reflection/amplification): chargen, SSDP, memcached.
const DEFAULT_PORTS = [19, 1900, 11211];

/** One entry per UDP port: 1 = blocked. */
export const blocked = defineMap({ type: 'array', key: 'u32', value: 'u8', maxEntries: 65536 });

// One map read per UDP packet; non-UDP and truncated frames pass (the stack validates them).
const judge = (ctx: XdpContext, ports: XdpMap): number => {
  if (ctx.ipProto() !== IPPROTO_UDP) return XDP_PASS;
  const d = ctx.l4Dport();
  return d >= 0 && ports.get(d) === 1 ? XDP_DROP : XDP_PASS;
};

export default (ctx: XdpContext): number => judge(ctx, blocked);

export interface Blocklist {
  (ctx: XdpContext): number;
  /** One entry per port: 1 = blocked. */
  readonly map: XdpMap;
  block(port: number): void;
  unblock(port: number): void;
}

function check(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`blocklist: ${p} is not a UDP port (0..65535)`);
  return p;
}

/** A blocklist of its own (runs in JS: only the module's default export is compiled). */
export function createBlocklist(ports: Iterable<number> = DEFAULT_PORTS): Blocklist {
  const map = defineMap({ type: 'array', key: 'u32', value: 'u8', maxEntries: 65536 });
  for (const p of ports) map.set(check(p), 1);
  const filter = ((ctx: XdpContext): number => judge(ctx, map)) as Blocklist;
  Object.assign(filter, {
    map,
    block: (p: number) => map.set(check(p), 1),
    unblock: (p: number) => map.set(check(p), 0),
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

for (const p of fromEnv()) blocked.set(p, 1);

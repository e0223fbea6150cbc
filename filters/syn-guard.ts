// Example XDP-style filter: rate-limit TCP SYNs per IPv4 source (a token bucket per source).
// Use:   xdp: ./filters/syn-guard.ts   (SOFTNET_SYN_RATE per second, SOFTNET_SYN_BURST; defaults 100, 200)
// or, embedded:  hook.attach(dev, createSynGuard({ rate: 100, burst: 200 }))
import { TCP_ACK, TCP_SYN, XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';

export interface SynGuardOptions {
  /** SYNs per second each source may send in the long run. */
  rate?: number;
  /** SYNs a source may send at once. */
  burst?: number;
  /** Table slots (power of two): memory is fixed, ~20 bytes a slot. */
  slots?: number;
}

export interface SynGuard {
  (ctx: XdpContext): number;
  /** SYNs dropped, and sources that took over a slot from another (table pressure). */
  readonly stats: { dropped: number; evictions: number };
}

/**
 * A direct-mapped table (hash of the source -> one slot) of token buckets. When two sources share
 * a slot the newer takes it over with a full bucket: the table never grows, and an attacker
 * spraying sources can at worst reset others' buckets, never block a source it does not own.
 */
export function createSynGuard(opts: SynGuardOptions = {}): SynGuard {
  const rate = opts.rate ?? 100;
  const burst = opts.burst ?? 2 * rate;
  const slots = opts.slots ?? 65536;
  if (!(rate > 0) || !(burst >= 1)) throw new Error(`syn-guard: rate ${rate}/s and burst ${burst} must be positive`);
  if ((slots & (slots - 1)) !== 0 || slots < 1) throw new Error(`syn-guard: slots ${slots} must be a power of two`);
  const mask = slots - 1;
  const key = new Int32Array(slots).fill(-1); // source address | 0, -1 = empty (255.255.255.255 never sends SYNs)
  const tokens = new Float64Array(slots);
  const last = new Float64Array(slots);
  const perMs = rate / 1000;
  const stats = { dropped: 0, evictions: 0 };

  const filter = ((ctx: XdpContext): number => {
    const f = ctx.tcpFlags();
    if (f < 0 || (f & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return XDP_PASS;
    const src = ctx.ipSrc() | 0;
    // Multiplicative hash (Knuth): spreads neighbouring addresses over the table.
    const s = (Math.imul(src, 0x9e3779b1) >>> 16) & mask;
    const now = ctx.nowMs;
    let t: number;
    if (key[s] !== src) {
      if (key[s] !== -1) stats.evictions++;
      key[s] = src;
      t = burst;
    } else {
      t = tokens[s] + (now - last[s]) * perMs;
      if (t > burst) t = burst;
    }
    last[s] = now;
    if (t < 1) {
      tokens[s] = t;
      stats.dropped++;
      return XDP_DROP;
    }
    tokens[s] = t - 1;
    return XDP_PASS;
  }) as SynGuard;
  Object.assign(filter, { stats });
  return filter;
}

function envNumber(name: string): number | undefined {
  const s = process.env[name];
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  if (!(n > 0)) throw new Error(`syn-guard: ${name}="${s}" is not a positive number`);
  return n;
}

export default createSynGuard({ rate: envNumber('SOFTNET_SYN_RATE'), burst: envNumber('SOFTNET_SYN_BURST') });

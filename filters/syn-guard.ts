// Example XDP filter: rate-limit TCP SYNs per IPv4 source (a token bucket per source, in an LRU map).
// Use:   xdp: ./filters/syn-guard.ts  or  xdp: {module: ./filters/syn-guard.ts, offload: auto}
//        (SOFTNET_SYN_RATE per second, SOFTNET_SYN_BURST; defaults 100, 200; params.set(RATE, n) at run time)
// or, embedded:  hook.attach(dev, createSynGuard({ rate: 100, burst: 200 }))
import { TCP_ACK, TCP_SYN, XDP_DROP, XDP_PASS, defineMap, type XdpContext, type XdpMap } from 'softnet/xdp';

/** Indexes of `params`. */
export const RATE = 0;
export const BURST = 1;
/** SYNs per second each source may send in the long run, and at once. */
export const params = defineMap({ type: 'array', key: 'u32', value: 'u32', maxEntries: 2 });
/**
 * Per source: tokens in thousandths (integers: a rate of r per second refills r thousandths per
 * ms) and the last SYN's time. LRU: when full, the least recently seen source makes room and
 * starts again with a full bucket if it comes back: the table never grows, and a source
 * spraying attacker can at worst reset others' buckets, never block a source it does not own.
 */
export const buckets = defineMap({ type: 'lru_hash', key: 'u32', value: { tokens: 'u32', last: 'i64' }, maxEntries: 65536 });
/** [0]: SYNs dropped. */
export const dropped = defineMap({ type: 'percpu_array', key: 'u32', value: 'u32', maxEntries: 1 });

const guard = (ctx: XdpContext, conf: XdpMap, b: XdpMap, drops: XdpMap): number => {
  const f = ctx.tcpFlags();
  if (f < 0 || (f & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return XDP_PASS;
  const src = ctx.ipSrc();
  const cap = conf.get(BURST) * 1000;
  const now = ctx.nowMs;
  let t = cap;
  if (b.has(src)) {
    const last = b.get(src, 'last');
    // Time only moves forward; a long silence refills the bucket anyway (bounds the product).
    const dt = last >= 0 && last <= now ? Math.max(0, Math.min(now - last, 1_000_000)) : 0;
    t = Math.min(b.get(src, 'tokens') + dt * conf.get(RATE), cap);
  }
  b.set(src, 'last', now);
  if (t < 1000) {
    b.set(src, 'tokens', t);
    drops.set(0, drops.get(0) + 1);
    return XDP_DROP;
  }
  b.set(src, 'tokens', t - 1000);
  return XDP_PASS;
};

export default (ctx: XdpContext): number => guard(ctx, params, buckets, dropped);

export interface SynGuardOptions {
  /** SYNs per second each source may send in the long run. */
  rate?: number;
  /** SYNs a source may send at once. */
  burst?: number;
  /** Sources tracked at once (the LRU map's size): memory is fixed. */
  slots?: number;
}

export interface SynGuard {
  (ctx: XdpContext): number;
  /** SYNs dropped, and sources that pushed another out of the table (table pressure). */
  readonly stats: { dropped: number; evictions: number };
}

function setParams(conf: XdpMap, rate: number, burst: number): void {
  if (!Number.isInteger(rate) || !Number.isInteger(burst) || rate < 1 || burst < 1 || rate > 4_000_000 || burst > 4_000_000)
    throw new Error(`syn-guard: rate ${rate}/s and burst ${burst} must be whole numbers in 1..4000000`);
  conf.set(RATE, rate);
  conf.set(BURST, burst);
}

/** A guard of its own (runs in JS: only the module's default export is compiled). */
export function createSynGuard(opts: SynGuardOptions = {}): SynGuard {
  const rate = opts.rate ?? 100;
  const burst = opts.burst ?? 2 * rate;
  const slots = opts.slots ?? 65536;
  if ((slots & (slots - 1)) !== 0 || slots < 1) throw new Error(`syn-guard: slots ${slots} must be a power of two`);
  const conf = defineMap({ type: 'array', key: 'u32', value: 'u32', maxEntries: 2 });
  setParams(conf, rate, burst);
  const b = defineMap({ type: 'lru_hash', key: 'u32', value: { tokens: 'u32', last: 'i64' }, maxEntries: slots });
  const drops = defineMap({ type: 'percpu_array', key: 'u32', value: 'u32', maxEntries: 1 });
  const filter = ((ctx: XdpContext): number => guard(ctx, conf, b, drops)) as SynGuard;
  Object.defineProperty(filter, 'stats', {
    get: () => ({ dropped: drops.get(0), evictions: b.evictions }),
  });
  return filter;
}

function envNumber(name: string, dflt: number): number {
  const s = process.env[name];
  if (s === undefined || s === '') return dflt;
  const n = Number(s);
  if (!(n > 0)) throw new Error(`syn-guard: ${name}="${s}" is not a positive number`);
  return n;
}

{
  const rate = envNumber('SOFTNET_SYN_RATE', 100);
  setParams(params, rate, envNumber('SOFTNET_SYN_BURST', 2 * rate));
}

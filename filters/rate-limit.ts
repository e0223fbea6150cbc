// Example XDP filter: at most LIMIT IPv4 packets per source in each WINDOW_MS window; the rest
// are dropped. Sources live in an LRU map: a flood of new sources pushes out the least recently
// seen, the table never grows. Use: xdp: {module: ./filters/rate-limit.ts, offload: auto}
import { XDP_DROP, XDP_PASS, defineMap, type XdpContext } from 'softnet/xdp';

const LIMIT = 100;
const WINDOW_MS = 1000;

/** Per source: when its window started, packets in it. */
export const windows = defineMap({ type: 'lru_hash', key: 'u32', value: { start: 'i64', count: 'u32' }, maxEntries: 65536 });

export default (ctx: XdpContext): number => {
  const src = ctx.ipSrc();
  if (src < 0) return XDP_PASS; // not IPv4: not ours to limit
  const now = ctx.nowMs;
  const start = windows.get(src, 'start');
  if (!windows.has(src) || start < 0 || start > now || now - start >= WINDOW_MS) {
    windows.set(src, 'start', now);
    windows.set(src, 'count', 1);
    return XDP_PASS;
  }
  const n = windows.get(src, 'count') + 1;
  windows.set(src, 'count', n);
  return n > LIMIT ? XDP_DROP : XDP_PASS;
};

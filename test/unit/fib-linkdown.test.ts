// Routes through a device without link (setLinkDown) are skipped like Linux's RTNH_F_LINKDOWN
// with ignore_routes_with_linkdown: differential against a linear scan over the live routes,
// with links going down and up between adds and deletes.
import { describe, expect, it } from 'vitest';
import { maskOf } from '../../src/wire/addr.ts';
import { Fib, formatRoute, RTN_BLACKHOLE, RTN_LOCAL, RTN_UNICAST, type Route } from '../../src/ipv4/fib/fib.ts';
import { rng } from '../support/rng.ts';

/** Longest prefix, then lowest metric, then first inserted, among routes whose link is up. */
function naive(routes: Route[], down: Set<number>, d: number): Route | undefined {
  let best: Route | undefined;
  for (const r of routes) {
    if (r.type === RTN_UNICAST && down.has(r.oif)) continue;
    if (((d & maskOf(r.len)) >>> 0) !== r.prefix) continue;
    if (best === undefined || r.len > best.len || (r.len === best.len && r.metric < best.metric)) best = r;
  }
  return best;
}

describe('fib: routes through a device without link', () => {
  it('connected and gateway routes fall through to the next best route; local routes stay', () => {
    const fib = new Fib();
    const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
    fib.add({ prefix: ip('10.1.0.0'), len: 24, type: RTN_UNICAST, gateway: 0, oif: 0, metric: 0, proto: 'kernel' });
    fib.add({ prefix: ip('10.2.0.0'), len: 24, type: RTN_UNICAST, gateway: 0, oif: 1, metric: 0, proto: 'kernel' });
    fib.add({ prefix: ip('10.2.0.1'), len: 32, type: RTN_LOCAL, gateway: 0, oif: 1, metric: 0, proto: 'kernel' });
    fib.add({ prefix: ip('10.3.0.0'), len: 16, type: RTN_UNICAST, gateway: ip('10.2.0.2'), oif: -1, metric: 0, proto: 'static' });
    fib.add({ prefix: ip('10.3.0.0'), len: 16, type: RTN_UNICAST, gateway: ip('10.1.0.9'), oif: -1, metric: 100, proto: 'static' });
    const oif = (a: string) => {
      const nh = fib.lookup(ip(a));
      return nh < 0 ? -1 : fib.nhOif[nh];
    };
    expect([oif('10.2.0.2'), oif('10.3.1.1'), oif('10.2.0.1')]).toEqual([1, 1, 1]);
    expect(fib.setLinkDown(1, true)).toBe(2);
    expect(oif('10.2.0.2')).toBe(-1); // no route: ICMP net unreachable
    expect(oif('10.3.1.1')).toBe(0); // the metric-100 route via the other port
    expect(fib.nhType[fib.lookup(ip('10.2.0.1'))]).toBe(RTN_LOCAL);
    expect(fib.route(ip('10.3.1.1'))?.gateway).toBe(ip('10.1.0.9'));
    const shown = fib.list().map((r) => formatRoute(r, (i) => `p${i}`));
    expect(shown).toContain('10.2.0.0/24 dev p1 proto kernel scope link linkdown');
    // A route added while the link is down is stored dead too.
    fib.add({ prefix: ip('10.4.0.0'), len: 16, type: RTN_UNICAST, gateway: ip('10.2.0.3'), oif: -1, metric: 0, proto: 'static' });
    expect(oif('10.4.0.1')).toBe(-1);
    expect(fib.setLinkDown(1, false)).toBe(3);
    expect([oif('10.2.0.2'), oif('10.3.1.1'), oif('10.4.0.1')]).toEqual([1, 1, 1]);
    expect(fib.list().some((r) => r.linkdown)).toBe(false);
  });

  const fib = new Fib(); // one table for all seeds (each ends empty): a DIR-24-8 is 32 MB
  for (let seed = 1; seed <= 12; seed++) {
    it(`differential, seed ${seed}`, () => {
      const rand = rng(seed * 2654435761);
      const bases = Array.from({ length: 3 }, () => rand());
      const routes: Route[] = [];
      const down = new Set<number>();
      const mk = (): Route => {
        // Mostly /12../32: a short prefix rewrites up to 2^24 entries per change.
        const len = 12 + (rand() % 21);
        const base = bases[rand() % bases.length] ^ (rand() & (rand() % 2 ? 0xff : 0xffff));
        const prefix = (base & maskOf(len)) >>> 0;
        const black = rand() % 10 === 0;
        return { prefix, len, type: black ? RTN_BLACKHOLE : RTN_UNICAST, gateway: 0, oif: black ? -1 : rand() % 4, metric: (rand() % 3) * 10, proto: 'static' };
      };
      const check = (n: number) => {
        for (let k = 0; k < n; k++) {
          const r0 = routes.length > 0 && rand() % 2 ? routes[rand() % routes.length] : undefined;
          const d = r0 === undefined ? rand() : (r0.prefix + (rand() % (r0.len === 0 ? 0xffffffff : ((~maskOf(r0.len)) >>> 0) + 1))) >>> 0;
          const want = naive(routes, down, d);
          const nh = fib.lookup(d);
          if (want === undefined) expect(nh, `lookup ${d}`).toBe(-1);
          else {
            expect(nh, `lookup ${d}`).toBeGreaterThanOrEqual(0);
            expect([fib.nhType[nh], fib.nhOif[nh], fib.nhMetric[nh]], `lookup ${d}`).toEqual([want.type, want.oif, want.metric]);
          }
        }
      };
      for (let step = 0; step < 200; step++) {
        const op = rand() % 10;
        if (op < 5 || routes.length === 0) {
          const r = mk();
          if (routes.some((x) => x.prefix === r.prefix && x.len === r.len && x.metric === r.metric)) continue;
          fib.add(r);
          routes.push(r);
        } else if (op < 8) {
          const i = rand() % routes.length;
          fib.del(routes[i]);
          routes.splice(i, 1);
        } else {
          const dev = rand() % 4;
          const d = !down.has(dev);
          fib.setLinkDown(dev, d);
          if (d) down.add(dev);
          else down.delete(dev);
        }
        check(20);
      }
      for (const r of routes.splice(0)) fib.del(r);
      for (const dev of down) fib.setLinkDown(dev, false);
      down.clear();
      check(50);
    });
  }
});

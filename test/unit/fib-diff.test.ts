// Differential test (as Click runs one script against its LPM elements): random tables with
// adds, deletes, replaces and metrics; DIR-24-8 lookups vs a linear scan over the route list.
import { describe, expect, it } from 'vitest';
import { maskOf } from '../../src/wire/addr.ts';
import { Fib, RTN_BLACKHOLE, RTN_UNICAST, type Route } from '../../src/ipv4/fib/fib.ts';
import { rng } from '../support/rng.ts';

/** Linear scan: longest prefix, then lowest metric, then first inserted. */
function naive(routes: Route[], d: number): Route | undefined {
  let best: Route | undefined;
  for (const r of routes) {
    if (((d & maskOf(r.len)) >>> 0) !== r.prefix) continue;
    if (best === undefined || r.len > best.len || (r.len === best.len && r.metric < best.metric)) best = r;
  }
  return best;
}

describe('fib differential: DIR-24-8 vs linear scan', () => {
  const fib = new Fib(); // one table for all seeds: each seed ends by deleting everything
  for (let seed = 1; seed <= 24; seed++) {
    it(`seed ${seed}`, () => {
      const rand = rng(seed * 2654435761);
      // Few base addresses so prefixes nest and overlap; lengths spread over 0..32.
      const bases = Array.from({ length: 4 }, () => rand());
      const routes: Route[] = [];
      const mk = (): Route => {
        const len = rand() % 100 < 3 ? 0 : rand() % 33;
        const base = bases[rand() % bases.length] ^ (rand() & (rand() % 2 ? 0xff : 0xffff));
        const prefix = (base & maskOf(len)) >>> 0;
        const black = rand() % 10 === 0;
        // odd seeds: few next hops; even seeds: many, so ids pass the one-byte tbl24 (>= 253)
        return { prefix, len, type: black ? RTN_BLACKHOLE : RTN_UNICAST, gateway: 0, oif: black ? -1 : rand() % (seed % 2 ? 4 : 700), metric: (rand() % 3) * 10, proto: 'static' };
      };
      const check = (n: number) => {
        for (let k = 0; k < n; k++) {
          let d: number;
          const pick = rand() % 3;
          if (pick === 0 || routes.length === 0) d = rand();
          else {
            const r = routes[rand() % routes.length];
            // inside the prefix, or just past either end of it
            const span = r.len === 0 ? 0xffffffff : (~maskOf(r.len)) >>> 0;
            d = pick === 1 ? (r.prefix + (rand() % (span + 1))) >>> 0 : rand() % 2 ? (r.prefix - 1) >>> 0 : (r.prefix + span + 1) >>> 0;
          }
          const want = naive(routes, d);
          const nh = fib.lookup(d);
          if (nh > maxNh) maxNh = nh;
          if (want === undefined) expect(nh, `lookup ${d >>> 0}`).toBe(-1);
          else {
            expect(nh, `lookup ${d >>> 0}`).toBeGreaterThanOrEqual(0);
            expect([fib.nhType[nh], fib.nhOif[nh], fib.nhMetric[nh]], `lookup ${d >>> 0}`).toEqual([want.type, want.oif, want.metric]);
          }
        }
      };
      if (seed % 2 === 0) {
        // take 300 next-hop ids first, so the random routes' ids are past the one-byte tbl24
        for (let k = 0; k < 300; k++) {
          const r: Route = { prefix: (0xc6120000 + k * 7) >>> 0, len: 32, type: RTN_UNICAST, gateway: 0, oif: 1000 + k, metric: 0, proto: 'static' };
          fib.add(r);
          routes.push(r);
        }
      }
      let maxNh = -1;
      for (let step = 0; step < 300; step++) {
        const op = rand() % 10;
        if (op < 6 || routes.length === 0) {
          const r = mk();
          const dup = routes.some((x) => x.prefix === r.prefix && x.len === r.len && x.metric === r.metric);
          if (dup) expect(() => fib.add(r)).toThrow('File exists');
          else {
            fib.add(r);
            routes.push(r);
          }
        } else if (op < 9) {
          const i = rand() % routes.length;
          const r = routes[i];
          fib.del({ prefix: r.prefix, len: r.len, metric: r.metric });
          routes.splice(i, 1);
        } else {
          const r = mk();
          const i = routes.findIndex((x) => x.prefix === r.prefix && x.len === r.len && x.metric === r.metric);
          fib.replace(r);
          if (i >= 0) routes.splice(i, 1);
          routes.push(r);
        }
        if (step % 25 === 0) check(200);
      }
      check(3000);
      if (seed % 2 === 0) expect(maxNh).toBeGreaterThan(300);
      expect(fib.size).toBe(routes.length);
      // Delete everything (in random order): the table must return to empty, groups freed.
      while (routes.length > 0) {
        const i = rand() % routes.length;
        const r = routes[i];
        fib.del({ prefix: r.prefix, len: r.len, metric: r.metric });
        routes.splice(i, 1);
        if (routes.length % 20 === 0) check(100);
      }
      expect(fib.size).toBe(0);
      expect(fib.tbl8Groups).toBe(0);
      check(500);
    });
  }
});

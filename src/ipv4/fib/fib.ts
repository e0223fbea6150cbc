/**
 * The IPv4 forwarding information base (net/ipv4/fib_trie.c's job): routes as `ip route` knows
 * them, answered by a DIR-24-8 table (dir24.ts) that the hot path reads, recomputed from the
 * per-prefix route lists (reference.ts) on every add/del/replace. Next hops are deduplicated into
 * typed arrays (nhType/nhGateway/nhOif/nhMetric/nhSrc): lookup() returns an index into them.
 */

import { formatIPv4, maskOf } from '../../wire/addr.ts';
import * as dir24 from './dir24.ts';
import { Dir24 } from './dir24.ts';
import { RouteTable } from './reference.ts';

import { RTN_BLACKHOLE, RTN_NAMES, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE, type Route } from './types.ts';

export * from './types.ts';

// Hot path (lookup): a module-local const, not an imported binding (src/wire/README.md).
const { NARROW_WIDE } = dir24;

/** Internal: a route as stored, with its next-hop id and whether its link is down. */
interface StoredRoute extends Route {
  nh: number;
  dead: boolean;
}

/** Routes lookups may use: not through a device without link. */
const alive = (r: StoredRoute): boolean => !r.dead;

export interface FibOptions {
  /** Capacity of the next-hop arrays (distinct type/gateway/oif/metric/src combinations). */
  maxNexthops?: number;
}

export class Fib {
  readonly nhType: Uint8Array;
  readonly nhGateway: Uint32Array;
  readonly nhOif: Int16Array;
  readonly nhMetric: Uint32Array;
  /** Preferred source, 0 = none. */
  readonly nhSrc: Uint32Array;
  /** Bumped on every change: lets caches (e.g. a per-flow route cache) notice. */
  generation = 0;

  private readonly dir = new Dir24();
  private readonly table = new RouteTable<StoredRoute>();
  private readonly nhRefs: Int32Array;
  private readonly nhByKey = new Map<string, number>();
  private readonly nhFree: number[] = [];
  private nhUsed = 0;
  /** Device indexes without link: their unicast routes are kept but not used (setLinkDown). */
  private readonly linkDown = new Set<number>();

  constructor(opts: FibOptions = {}) {
    const n = opts.maxNexthops ?? 65536;
    this.nhType = new Uint8Array(n);
    this.nhGateway = new Uint32Array(n);
    this.nhOif = new Int16Array(n);
    this.nhMetric = new Uint32Array(n);
    this.nhSrc = new Uint32Array(n);
    this.nhRefs = new Int32Array(n);
  }

  /** Next-hop id for daddr (host order), or -1 if no route. Hot path: no allocation. */
  lookup(daddr: number): number {
    const dir = this.dir;
    let e = dir.n24[daddr >>> 8];
    if (e === NARROW_WIDE) {
      e = dir.w24[daddr >>> 8];
      if (e < 0) e = dir.t8[((e & 0x7fffffff) << 8) | (daddr & 255)];
    }
    return e - 1;
  }

  /** lookup() of daddrs[from .. from+n) into out[0 .. n) (batch callers, benchmarks). */
  lookupBatch(daddrs: Uint32Array, out: Int32Array, n: number, from = 0): void {
    const dir = this.dir;
    const n24 = dir.n24;
    const w24 = dir.w24;
    const t8 = dir.t8;
    for (let i = 0; i < n; i++) {
      const d = daddrs[from + i];
      let e = n24[d >>> 8];
      if (e === NARROW_WIDE) {
        e = w24[d >>> 8];
        if (e < 0) e = t8[((e & 0x7fffffff) << 8) | (d & 255)];
      }
      out[i] = e - 1;
    }
  }

  /** The route lookup() would use for daddr (`ip route get`): slow path. */
  route(daddr: number): Route | undefined {
    const r = this.table.lookup(daddr >>> 0, 32, alive);
    return r === undefined ? undefined : publicRoute(r);
  }

  get size(): number {
    return this.table.size;
  }

  /** Bytes held by the lookup tables (tbl24, depths, tbl8 groups) and next-hop arrays. */
  memoryBytes(): number {
    return this.dir.memoryBytes() + this.nhRefs.length * 16;
  }

  /** tbl8 groups in use (prefixes longer than /24 need one per /24 they fall in). */
  get tbl8Groups(): number {
    return this.dir.groups;
  }

  /** `ip route add`: throws `RTNETLINK answers: File exists` if prefix/len/metric is taken. */
  add(r: Route): void {
    const s = this.prepare(r);
    if (this.findExact(s.prefix, s.len, s.metric) !== undefined) throw new Error('RTNETLINK answers: File exists');
    this.install(s);
  }

  /** `ip route replace`: replaces the route with the same prefix/len/metric, or adds it. */
  replace(r: Route): void {
    const s = this.prepare(r);
    const old = this.findExact(s.prefix, s.len, s.metric);
    // Install the new one before removing the old: the prefix never goes unanswered.
    this.install(s);
    if (old !== undefined) this.uninstall(old);
  }

  /**
   * `ip route del`: removes the first route of prefix/len whose given fields all match (fields
   * left undefined match anything, as the kernel treats unset attributes).
   */
  del(match: Partial<Route> & { prefix: number; len: number }): void {
    const list = this.table.get(match.prefix >>> 0, match.len);
    const r = list?.find(
      (x) =>
        (match.type === undefined || x.type === match.type) &&
        (match.gateway === undefined || x.gateway === match.gateway >>> 0) &&
        (match.oif === undefined || match.oif < 0 || x.oif === match.oif) &&
        (match.metric === undefined || x.metric === match.metric) &&
        (match.proto === undefined || x.proto === match.proto) &&
        (match.src === undefined || x.src === match.src >>> 0),
    );
    if (r === undefined) throw new Error('RTNETLINK answers: No such process');
    this.uninstall(r);
  }

  /** `ip route flush`: deletes every route the filter accepts (all without one); returns how many. */
  flush(filter?: (r: Route) => boolean): number {
    const victims = [...this.table.all()].filter((r) => filter === undefined || filter(publicRoute(r)));
    for (const r of victims) this.uninstall(r);
    return victims.length;
  }

  /** All routes, ordered as `ip route show` (by prefix, then length, then metric). */
  list(): Route[] {
    const out = [...this.table.all()].map(publicRoute);
    out.sort((a, b) => a.prefix - b.prefix || a.len - b.len || a.metric - b.metric);
    return out;
  }

  /**
   * A device lost or regained its link. Like Linux's fib_sync_down_dev/fib_sync_up (with
   * ignore_routes_with_linkdown): its unicast routes, connected and via a gateway on it, stay in
   * the table (shown "linkdown") but lookups fall through to the next best route, or to none
   * (ICMP net unreachable). Local and broadcast routes stay: the address is still ours. The
   * lookup table is rewritten here, on the control path, so lookups cost nothing more.
   * Returns how many routes changed state.
   */
  setLinkDown(oif: number, down: boolean): number {
    if (down) this.linkDown.add(oif);
    else this.linkDown.delete(oif);
    const touched: StoredRoute[] = [];
    for (const r of this.table.all()) {
      if (r.type !== RTN_UNICAST || r.oif !== oif || r.dead === down) continue;
      r.dead = down;
      touched.push(r);
    }
    for (const r of touched) this.sync(r.prefix, r.len);
    if (touched.length > 0) this.generation++;
    return touched.length;
  }

  /** Whether setLinkDown(oif, true) is in force. */
  isLinkDown(oif: number): boolean {
    return this.linkDown.has(oif);
  }

  /** Make the lookup table answer prefix/len with its best live route, or the live cover. */
  private sync(prefix: number, len: number): void {
    const best = this.table.best(prefix, len, alive);
    if (best !== undefined) {
      this.dir.insert(prefix, len, best.nh);
      return;
    }
    const cover = len === 0 ? undefined : this.table.lookup(prefix, len - 1, alive);
    this.dir.remove(prefix, len, cover === undefined ? -1 : cover.nh, cover === undefined ? 0 : cover.len);
  }

  private findExact(prefix: number, len: number, metric: number): StoredRoute | undefined {
    return this.table.get(prefix, len)?.find((x) => x.metric === metric);
  }

  /** Validates and normalises a route; resolves a gateway-only route's device. */
  private prepare(r: Route): StoredRoute {
    const len = r.len;
    if (!Number.isInteger(len) || len < 0 || len > 32) throw new Error(`Error: invalid prefix length ${len} (expected 0..32)`);
    const prefix = r.prefix >>> 0;
    if ((prefix & ~maskOf(len)) !== 0) throw new Error(`Error: Invalid prefix for given prefix length (${formatIPv4(prefix)}/${len}).`);
    if (RTN_NAMES[r.type] === undefined) throw new Error(`Error: unknown route type ${r.type}`);
    const metric = r.metric ?? 0;
    if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) throw new Error(`Error: invalid metric ${metric}`);
    let gateway = (r.gateway ?? 0) >>> 0;
    let oif = r.oif ?? -1;
    if (r.type === RTN_UNICAST) {
      if (gateway !== 0) {
        // As fib_check_nh at insert: the gateway must be on a connected (link-scope) route,
        // on the given device if one was named. Resolved once, not on every lookup.
        const via = this.table.lookup(gateway);
        if (via === undefined || via.type !== RTN_UNICAST || via.gateway !== 0 || via.oif < 0 || (oif >= 0 && via.oif !== oif)) {
          throw new Error(`Error: Nexthop has invalid gateway (${formatIPv4(gateway)} is not on a connected network${oif >= 0 ? ' of that device' : ''}).`);
        }
        oif = via.oif;
      } else if (oif < 0) {
        throw new Error('Error: a unicast route needs a device or a gateway ("dev NAME" or "via ADDR").');
      }
    } else if (r.type === RTN_BLACKHOLE || r.type === RTN_UNREACHABLE || r.type === RTN_PROHIBIT) {
      gateway = 0;
      oif = -1;
    } else if (oif < 0) {
      throw new Error(`Error: a ${RTN_NAMES[r.type]} route needs a device ("dev NAME").`);
    }
    if (oif > 0x7fff) throw new Error(`Error: device index ${oif} out of range`);
    const dead = r.type === RTN_UNICAST && this.linkDown.has(oif);
    const s: StoredRoute = { prefix, len, type: r.type, gateway, oif, metric, proto: r.proto ?? 'static', nh: -1, dead };
    if (r.src !== undefined && r.src !== 0) s.src = r.src >>> 0;
    return s;
  }

  private install(s: StoredRoute): void {
    s.nh = this.nhGet(s);
    this.table.insert(s);
    // Only the best live route of a prefix is in the lookup table.
    if (!s.dead && this.table.best(s.prefix, s.len, alive) === s) this.dir.insert(s.prefix, s.len, s.nh);
    this.generation++;
  }

  private uninstall(r: StoredRoute): void {
    const wasBest = !r.dead && this.table.best(r.prefix, r.len, alive) === r;
    this.table.remove(r);
    // The next live route of the prefix takes over, else the longest shorter live prefix.
    if (wasBest) this.sync(r.prefix, r.len);
    this.nhPut(r.nh);
    this.generation++;
  }

  private nhGet(s: StoredRoute): number {
    const key = `${s.type},${s.gateway},${s.oif},${s.metric},${s.src ?? 0}`;
    let id = this.nhByKey.get(key);
    if (id === undefined) {
      id = this.nhFree.pop();
      if (id === undefined) {
        if (this.nhUsed === this.nhRefs.length) throw new Error(`Error: next-hop table full (${this.nhRefs.length} distinct next hops; raise FibOptions.maxNexthops)`);
        id = this.nhUsed++;
      }
      this.nhByKey.set(key, id);
      this.nhType[id] = s.type;
      this.nhGateway[id] = s.gateway;
      this.nhOif[id] = s.oif;
      this.nhMetric[id] = s.metric;
      this.nhSrc[id] = s.src ?? 0;
      this.nhKeys[id] = key;
    }
    this.nhRefs[id]++;
    return id;
  }

  private readonly nhKeys: string[] = [];

  private nhPut(id: number): void {
    if (--this.nhRefs[id] > 0) return;
    this.nhByKey.delete(this.nhKeys[id]);
    this.nhFree.push(id);
  }
}

function publicRoute(r: StoredRoute): Route {
  const o: Route = { prefix: r.prefix, len: r.len, type: r.type, gateway: r.gateway, oif: r.oif, metric: r.metric, proto: r.proto };
  if (r.src !== undefined) o.src = r.src;
  if (r.dead) o.linkdown = true;
  return o;
}

export { parseRoute, parseRouteMatch, formatRoute } from './route-parse.ts';

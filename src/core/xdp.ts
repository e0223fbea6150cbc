import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Batch } from './batch.ts';
import { coarseClock } from './clock.ts';
import type { Graph, Stage } from './graph.ts';
import type { NetDevices } from './netdev.ts';
import { prepareImport } from './ts-loader.ts';
import { mapCollector, type XdpMap } from './xdp-map.ts';
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX, XdpContext } from './xdp-helpers.ts';

export { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX, XdpContext } from './xdp-helpers.ts';

/**
 * An XDP-style filter: called once per packet with the reused context, returns a verdict
 * (XDP_PASS, XDP_DROP, XDP_TX, XDP_REDIRECT via ctx.redirect(dev), XDP_ABORTED). Must not
 * allocate or keep the context. Anything else returned, or a throw, counts as ABORTED.
 */
export type XdpFilter = (ctx: XdpContext) => number;

export interface XdpVerdicts {
  aborted: number;
  drop: number;
  pass: number;
  tx: number;
  redirect: number;
}

const NV = 5;

/**
 * Stage `xdp`: the XDP hook. Runs the device's filter over each packet before the stack sees it
 * (the poll loop enters here instead of eth-input when the device has a filter). PASS goes on
 * to eth-input; TX and REDIRECT go straight to dev-xmit with b.oif set; DROP/ABORTED are drops
 * (`xdp.drop`, `xdp.aborted`). Verdicts are counted per device.
 */
export class XdpHook implements Stage {
  readonly name = 'xdp';
  /** Per device: 1 when a filter is attached (the poll loop's entry choice). */
  readonly enabled = new Uint8Array(256);
  /** Verdict counts, [dev * 5 + verdict]. */
  readonly verdicts = new Float64Array(256 * NV);
  readonly ctx: XdpContext;
  /** Filter exceptions (each aborts its packet) and the last message, for `softnet stat`. */
  exceptions = 0;
  lastException = '';

  private readonly filters: Array<XdpFilter | null> = new Array<XdpFilter | null>(256).fill(null);
  private g!: Graph;
  private ethInput = -1;
  private devXmit = -1;
  private rDrop = 0;
  private rAborted = 0;
  private rRedirect = 0;

  constructor(readonly devs: NetDevices) {
    this.ctx = new XdpContext(new Uint8Array(0), devs);
  }

  /** Attach (or replace) the filter of device `dev` (a NetDevice index). */
  attach(dev: number, filter: XdpFilter): void {
    if (typeof filter !== 'function') throw new Error(`xdp: the filter for device ${dev} is not a function`);
    if (dev < 0 || dev >= this.devs.list.length) throw new Error(`xdp: no device with index ${dev}`);
    if (this.devs.list[dev].vlanId !== 0) throw new Error(`xdp: ${this.devs.list[dev].name} is a VLAN sub-interface; attach to its port device (XDP runs before VLAN untagging)`);
    this.filters[dev] = filter;
    this.enabled[dev] = 1;
  }

  detach(dev: number): void {
    this.filters[dev] = null;
    this.enabled[dev] = 0;
  }

  stats(dev: number): XdpVerdicts {
    const o = dev * NV;
    const c = this.verdicts;
    return { aborted: c[o + XDP_ABORTED], drop: c[o + XDP_DROP], pass: c[o + XDP_PASS], tx: c[o + XDP_TX], redirect: c[o + XDP_REDIRECT] };
  }

  init(g: Graph): void {
    this.g = g;
    this.ctx.u8 = g.pool.umem.u8;
    this.ctx.dv = g.pool.umem.dv;
    this.ethInput = g.id('eth-input');
    this.devXmit = g.has('dev-xmit') ? g.id('dev-xmit') : -1;
    this.rDrop = g.reason('xdp.drop');
    this.rAborted = g.reason('xdp.aborted');
    this.rRedirect = g.reason('xdp.redirect_failed');
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    // The poll loop's clock (no allocation); stale by at most one round. Whole milliseconds:
    // filters compute with integers, and a compiled one reads bpf_ktime_get_ns() / 10^6.
    this.ctx.nowMs = Math.floor(coarseClock[0]);
    let j = 0;
    while (j < n) {
      try {
        for (; j < n; j++) this.one(b, v[j]);
      } catch (e) {
        // The filter threw: the kernel's trace_xdp_exception; the packet is aborted.
        this.exception(b, v[j], e);
        j++;
      }
    }
  }

  private one(b: Batch, i: number): void {
    const dev = b.iif[i];
    const f = this.filters[dev];
    const c = this.verdicts;
    if (f === null) {
      // Detached while the packet was in flight.
      c[dev * NV + XDP_PASS]++;
      this.g.enqueue(this.ethInput, i);
      return;
    }
    const ctx = this.ctx;
    ctx.set(b.addr[i], b.len[i], dev);
    const r = f(ctx);
    if (r === XDP_PASS) {
      c[dev * NV + XDP_PASS]++;
      this.g.enqueue(this.ethInput, i);
    } else if (r === XDP_DROP) {
      c[dev * NV + XDP_DROP]++;
      this.g.drop(b, i, this.rDrop);
    } else if (r === XDP_TX) {
      c[dev * NV + XDP_TX]++;
      this.xmit(b, i, dev);
    } else if (r === XDP_REDIRECT) {
      c[dev * NV + XDP_REDIRECT]++;
      this.xmit(b, i, ctx.redirectTo);
    } else {
      c[dev * NV + XDP_ABORTED]++;
      this.g.drop(b, i, this.rAborted);
    }
  }

  private xmit(b: Batch, i: number, oif: number): void {
    const list = this.devs.list;
    if (this.devXmit < 0 || oif < 0 || oif >= list.length || !list[oif].up) {
      this.g.drop(b, i, this.rRedirect);
      return;
    }
    b.oif[i] = oif;
    this.g.enqueue(this.devXmit, i);
  }

  private exception(b: Batch, i: number, e: unknown): void {
    this.exceptions++;
    this.verdicts[b.iif[i] * NV + XDP_ABORTED]++;
    this.g.drop(b, i, this.rAborted);
    const msg = e instanceof Error ? e.message : String(e);
    // Bounded: one message kept, the first one logged.
    if (this.exceptions === 1) console.warn(`xdp: the filter on ${this.devs.list[b.iif[i]]?.name ?? b.iif[i]} threw (${msg}); its packets are aborted (xdp.aborted)`);
    this.lastException = msg.slice(0, 200);
  }
}

/** Maps each loaded filter module made (defineMap at its top level), by module URL. */
const moduleMaps = new Map<string, XdpMap[]>();

/**
 * Load a filter module: its default export must be `(ctx: XdpContext) => number`. Paths are
 * resolved from the current directory; a `.ts` module loads under plain node too (ts-loader.ts).
 */
export async function loadXdpFilter(path: string): Promise<XdpFilter> {
  return (await loadXdpModule(path)).filter;
}

/**
 * Load a filter module and the maps it made while it loaded (defineMap, in order: the compiler
 * pairs them with its module-level defineMap consts to bind them to the kernel's maps).
 */
export async function loadXdpModule(path: string): Promise<{ filter: XdpFilter; maps: XdpMap[] }> {
  const url = pathToFileURL(resolve(path)).href;
  const made: XdpMap[] = [];
  const outer = mapCollector.maps;
  mapCollector.maps = made;
  let filter: XdpFilter;
  try {
    filter = await importXdpFilter(path, url);
  } finally {
    mapCollector.maps = outer;
  }
  // A module evaluates once: a second load finds the maps of the first.
  if (!moduleMaps.has(url)) moduleMaps.set(url, made);
  return { filter, maps: moduleMaps.get(url)! };
}

async function importXdpFilter(path: string, url: string): Promise<XdpFilter> {
  let mod: Record<string, unknown>;
  try {
    prepareImport(url);
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`xdp: cannot load the filter module ${path}: ${msg}`);
  }
  const f = mod.default;
  if (typeof f !== 'function') {
    const names = Object.keys(mod).join(', ') || 'nothing';
    throw new Error(
      `xdp: the filter module ${path} has no default export function; it must 'export default function (ctx: XdpContext): number' (it exports: ${names})`,
    );
  }
  return f as XdpFilter;
}

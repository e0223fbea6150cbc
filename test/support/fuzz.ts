/**
 * Fuzz harness: the full Stack (xdp hook, eth-input, VLANs, ARP/neighbour, ip-rcv, netfilter,
 * defrag, ip-forward, ip-fragment, icmp, dev-xmit) over memory ports, fed seeded random and
 * mutated frames (fuzz-frames.ts). Properties checked:
 *
 * - No exception escapes a stage: the poll loop counts them (napi.errors) instead of dying, so
 *   any count > 0 is a failure, as is a throw out of napi.kick() itself.
 * - No write outside the frame: every injected frame is placed at the END of its UMEM slot
 *   (tail-aligned), and the first CANARY bytes of every slot hold a pattern that nothing may
 *   write (stages push headers into headroom, which starts far below). A stage writing past its
 *   frame's end, or far before its start, breaks the next (or its own) slot's canary.
 * - No read outside the frame: typed arrays do not trap, so reads are caught two ways. A DataView
 *   read past the buffer throws a RangeError: one frame in EDGE_EVERY is placed in the very last
 *   slot of the UMEM, its last byte the buffer's last byte, so any multi-byte over-read of it
 *   throws and is counted by napi.errors. A Uint8Array read past the buffer yields undefined
 *   (silently 0 in integer arithmetic): not detectable without a Proxy (~50x slower); over-reads
 *   of frames elsewhere read the next slot's canary, which is caught only where it changes an
 *   output. Stated as a limit, not hidden.
 * - Every frame is accounted for: every pool.free is attributed when it happens, to a named
 *   drop counter (graph drops, the neighbour's, softnet's), a transmission (port sink), a counted
 *   consumption (ARP Ignored, ICMP messages taken, a reassembly queue releasing its fragments),
 *   and "silent" frees (none of these) are failures. At the end:
 *   injected + generated (ICMP errors, ARP requests, fragments, reassembled datagrams)
 *   = transmitted + dropped + consumed + held (queues).
 * - The pool balances: Stack.frames().lost === 0 at every check.
 */
import { Stack } from '../../src/stack/stack.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { ICMP } from '../../src/ipv4/mib.ts';
import { XDP_PASS, XDP_TX, type XdpContext } from '../../src/core/xdp.ts';
import { createBlocklist } from '../../filters/blocklist.ts';
import { buildTemplates, FUZZ_TOPOLOGY, makeFrame, Rng } from './fuzz-frames.ts';

/** Bytes at the start of every UMEM slot that nothing may write. */
export const CANARY = 64;
const CANARY_BYTE = (k: number) => (0xa5 ^ k * 29) & 0xff;
/** One frame in EDGE_EVERY goes into the UMEM's last slot (when it is back from the stack). */
const EDGE_EVERY = 16;

export interface FuzzOptions {
  frames: number;
  seed: number;
  /** Stop early after this many ms (the frame count is then what was done)... */
  timeLimitMs?: number;
  /** ...but never before this many frames: the work done is a condition, not a race. */
  minFrames?: number;
  /** Check canaries and the pool every this many batches. Default 64. */
  checkEvery?: number;
  /** Frames per batch at most (default 256; 1 to find the one frame of a failing batch). */
  maxBatch?: number;
  /** Stop at the first violation (default true). */
  stopOnViolation?: boolean;
  /** Progress line every ~ms (long runs). */
  progressMs?: number;
  log?: (line: string) => void;
}

export interface FuzzViolation {
  kind: string;
  message: string;
  batch: number;
  /** The failing batch's frames as [port, hex] (regenerated from the saved PRNG state). */
  frames: Array<[number, string]>;
}

export interface FuzzResult {
  seed: number;
  frames: number;
  batches: number;
  seconds: number;
  framesPerSec: number;
  edgeFrames: number;
  transmitted: number;
  generated: number;
  consumed: number;
  silentFrees: number;
  held: number;
  drops: Record<string, number>;
  napiErrors: number;
  xdpExceptions: number;
  violations: FuzzViolation[];
}

interface Harness {
  s: Stack;
  ports: MemoryPort[];
  clock: { now: number };
}

/** The fuzz topology as a Stack over three memory ports, with a virtual clock. */
export async function fuzzStack(): Promise<Harness> {
  const clock = { now: 1_000_000 };
  const s = new Stack({ name: 'fuzz', umem: 'memory', frames: 4096, neigh: { clock: () => clock.now, random: () => 0.5 } });
  for (const p of FUZZ_TOPOLOGY.ports) {
    await s.addPort({ name: p.name, dev: p.dev, mode: 'memory', addresses: p.addresses, vlans: p.vlans, mtu: (p as { mtu?: number }).mtu });
  }
  for (const r of FUZZ_TOPOLOGY.routes) s.route(r);
  for (const r of FUZZ_TOPOLOGY.netfilter) s.iptables(r);
  // Deterministic time for reassembly expiry and ICMP rate limits too.
  s.ipv4.ctx.now = () => clock.now;
  const block = createBlocklist([53]);
  await s.attachXdp('p2', (ctx: XdpContext) => {
    const v = block(ctx);
    if (v !== XDP_PASS) return v;
    return ctx.l4Dport() === 7 ? XDP_TX : XDP_PASS;
  });
  const ports = ['p0', 'p1', 'p2'].map((n) => s.port(n) as MemoryPort);
  return { s, ports, clock };
}

/** Run the fuzzer. Never throws for a property failure: violations are returned. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const { s, ports, clock } = await fuzzStack();
  const log = o.log ?? (() => undefined);
  const pool = s.pool;
  const umem = s.umem;
  const u8 = umem.u8;
  const fs = umem.frameSize;
  const room = fs - umem.headroom;
  const lastBase = (umem.frames - 1) * fs;
  const checkEvery = o.checkEvery ?? 64;
  const templates = buildTemplates();
  const scratch = new Uint8Array(fs);
  const violations: FuzzViolation[] = [];

  // Canary at the start of every slot.
  for (let f = 0; f < umem.frames; f++) for (let k = 0; k < CANARY; k++) u8[f * fs + k] = CANARY_BYTE(k);

  // ---- free attribution -----------------------------------------------------------------------
  const dropCounters = s.graph.drops;
  const arpMib = s.l2.arp.mib.v;
  const icmp = s.ipv4.mib.icmp.v;
  const napiDropped = (s.napi as unknown as { dropped: Float64Array }).dropped;
  const defrag = s.ipv4.defrag as unknown as { qUsed: Uint8Array; qHead: Int32Array; fNext: Int32Array; fAddr: Uint32Array; fFree: Int32Array; fTop: number; maxQueues: number };
  // Drop reasons of icmp-rcv: those ICMP messages are drops, not consumptions.
  const icmpDropIds = ['icmp.InErrors', 'icmp.InCsumErrors', 'icmp.echo_ignored'].map((n) => s.graph.drops.id(n));
  /** Named drops so far: each one freed exactly one frame. */
  const dropTotal = (): number => {
    const drops = dropCounters.v; // re-read: the array grows when a reason is registered
    let t = 0;
    for (let k = 0; k < drops.length; k++) t += drops[k];
    for (let k = 0; k < napiDropped.length; k++) t += napiDropped[k];
    return t;
  };
  /**
   * Counted consumptions so far: ARP frames taken (arp Ignored), ICMP messages taken and not
   * answered (InMsgs minus icmp-rcv's drops minus echo/timestamp replies built in place).
   */
  const consumeTotal = (): number => {
    const drops = dropCounters.v;
    let icmpDrops = 0;
    for (const id of icmpDropIds) icmpDrops += drops[id];
    return arpMib[3] + icmp[ICMP.InMsgs] - icmpDrops - icmp[ICMP.OutEchoReps] - icmp[ICMP.OutTimestampReps];
  };
  /** Is addr's frame in (or just released from) a reassembly queue? Then ip_defrag owns its fate. */
  const inDefragQueue = (addr: number): boolean => {
    const base = pool.base(addr);
    for (let q = 0; q < defrag.maxQueues; q++) {
      if (defrag.qUsed[q] === 0) continue;
      for (let f = defrag.qHead[q]; f >= 0; f = defrag.fNext[f]) if (pool.base(defrag.fAddr[f]) === base) return true;
    }
    // ip_expire takes the first fragment out for the ICMP error, then frees it if none is sent.
    return defrag.fTop > 0 && pool.base(defrag.fAddr[defrag.fFree[defrag.fTop - 1]]) === base;
  };
  let dropsUsed = 0;
  let consumedUsed = 0;
  let consumed = 0;
  let silent = 0;
  let silentMsg = '';
  let inSink = false;
  let lastHeld = false; // the UMEM's last slot is kept out of the pool for edge frames
  let injecting = false;
  let allocs = 0;
  const origFree = pool.free.bind(pool);
  const origAlloc = pool.alloc.bind(pool);
  const origAllocMany = pool.allocMany.bind(pool);
  pool.alloc = () => {
    const a = origAlloc();
    if (a >= 0 && !injecting) allocs++;
    return a;
  };
  pool.allocMany = (out: Uint32Array, n: number) => {
    const k = origAllocMany(out, n);
    allocs += k;
    return k;
  };
  /** Give a frame back to the pool, except the reserved last slot. */
  const release = (addr: number) => {
    if (pool.base(addr) === lastBase) lastHeld = true;
    else origFree(addr);
  };
  pool.free = (addr: number) => {
    if (inSink) {
      inSink = false; // MemoryPort.tx frees right after calling the sink
    } else if (dropTotal() > dropsUsed) {
      dropsUsed++;
    } else if (consumeTotal() > consumedUsed) {
      consumedUsed++;
      consumed++;
    } else if (inDefragQueue(addr)) {
      consumed++;
    } else {
      silent++;
      if (silentMsg === '') silentMsg = new Error('silent free').stack ?? '';
    }
    release(addr);
  };

  let transmitted = 0;
  for (const p of ports) {
    p.peer = null;
    p.sink = () => {
      transmitted++;
      inSink = true;
    };
  }
  // Take the last slot out of the pool (edge frames), return the rest.
  {
    const all = new Uint32Array(pool.available);
    const n = origAllocMany(all, all.length);
    for (let k = 0; k < n; k++) if (pool.base(all[k]) !== lastBase) origFree(all[k]);
    lastHeld = true;
  }

  await s.start();
  // The fuzz loop drives the poll loop itself (synchronously), not through interrupts.
  const enqueue = ports.map((p) => (p as unknown as { enqueue(a: number, l: number): boolean }).enqueue.bind(p));

  const checkCanaries = (): string => {
    for (let f = 0; f < umem.frames; f++) {
      const b = f * fs;
      for (let k = 0; k < CANARY; k++) {
        if (u8[b + k] !== CANARY_BYTE(k)) return `slot ${f} (0x${b.toString(16)}) byte ${k} is 0x${u8[b + k].toString(16)}: a write outside a frame`;
      }
    }
    return '';
  };
  const accountCheck = (): string => {
    const fr = s.frames();
    const lost = fr.lost - (lastHeld ? 1 : 0);
    if (lost !== 0) return `pool does not balance: ${JSON.stringify(fr)} (last slot held by the harness: ${lastHeld})`;
    return '';
  };

  const replayBatch = (state: number, n: number): Array<[number, string]> => {
    const r = new Rng(1);
    r.s = state;
    const out: Array<[number, string]> = [];
    for (let k = 0; k < n; k++) {
      const pl = makeFrame(r, templates, scratch, room);
      const len = pl & 0xffff;
      out.push([pl >>> 16, Buffer.from(scratch.subarray(0, len)).toString('hex')]);
    }
    return out;
  };

  const r = new Rng(o.seed);
  const t0 = performance.now();
  const deadline = o.timeLimitMs !== undefined ? t0 + o.timeLimitMs : Infinity;
  let lastProgress = t0;
  let injected = 0;
  let edge = 0;
  let batch = 0;
  const fail = (kind: string, message: string, state: number, n: number) => {
    violations.push({ kind, message, batch, frames: replayBatch(state, n) });
  };
  const stopOn = o.stopOnViolation ?? true;
  let lastErrors = 0;
  while (injected < o.frames) {
    const n = Math.min(1 + r.int(o.maxBatch ?? 256), o.frames - injected);
    const state = r.s;
    let k = 0;
    for (; k < n; k++) {
      const pl = makeFrame(r, templates, scratch, room);
      let len = pl & 0xffff;
      const port = pl >>> 16;
      let base: number;
      if (lastHeld && (injected + k) % EDGE_EVERY === 0) {
        lastHeld = false;
        base = lastBase;
        edge++;
      } else {
        injecting = true;
        const a = pool.alloc();
        injecting = false;
        if (a < 0) break;
        base = pool.base(a);
      }
      // Tail-aligned: the frame's last byte is its slot's last byte (a 0-byte frame sits on it).
      const start = base + fs - (len > 0 ? len : 1);
      u8.set(scratch.subarray(0, len), start);
      if (len > room) len = room;
      if (!enqueue[port](start, len)) {
        release(start);
        break;
      }
    }
    injected += k;
    clock.now += 1 + r.int(20);
    try {
      let guard = 0;
      while ((ports[0].pending() > 0 || ports[1].pending() > 0 || ports[2].pending() > 0) && guard++ < 10_000) s.napi.kick();
      if ((batch & 15) === 0) {
        s.l2.neigh.tick();
        s.ipv4.expire();
      }
    } catch (e) {
      fail('throw', `the poll loop threw: ${e instanceof Error ? e.stack : String(e)}`, state, n);
    }
    if (s.napi.errors !== lastErrors) {
      lastErrors = s.napi.errors;
      fail('stage-exception', `a stage threw (napi.errors=${s.napi.errors}); see the first error logged by napi`, state, n);
    }
    if (silent > 0 && violations.every((v) => v.kind !== 'silent-free')) fail('silent-free', `a frame was freed without a counter: ${silentMsg}`, state, n);
    if (batch % checkEvery === 0) {
      const c = checkCanaries();
      if (c) fail('canary', c, state, n);
      const a = accountCheck();
      if (a) fail('pool', a, state, n);
    }
    batch++;
    if (violations.length > 0 && stopOn) break;
    const now = performance.now();
    if (now > deadline && injected >= (o.minFrames ?? 0)) break;
    if (o.progressMs !== undefined && now - lastProgress > o.progressMs) {
      lastProgress = now;
      log(`fuzz: ${(injected / 1e6).toFixed(2)} M frames, ${((injected / (now - t0)) * 1e3 / 1e6).toFixed(2)} M frames/s, ${violations.length} violations`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  // Final checks with the queues still holding what they hold.
  const c = checkCanaries();
  if (c) violations.push({ kind: 'canary', message: c, batch, frames: [] });
  const a = accountCheck();
  if (a) violations.push({ kind: 'pool', message: a, batch, frames: [] });
  const fr = s.frames();
  const held = fr.neigh + fr.ipv4 + fr.ports;
  const d = s.graph.drops.toJSON();
  const dropped = Object.values(d).reduce((x, y) => x + y, 0);
  const generated = allocs;
  // Ledger: every frame that entered (injected or made by the stack) left by one counted way or is held.
  const out = transmitted + dropped + consumed + held;
  if (injected + generated !== out + silent) {
    violations.push({ kind: 'ledger', message: `injected ${injected} + generated ${generated} != transmitted ${transmitted} + dropped ${dropped} + consumed ${consumed} + held ${held} + silent ${silent}`, batch, frames: [] });
  }
  const result: FuzzResult = {
    seed: o.seed,
    frames: injected,
    batches: batch,
    seconds,
    framesPerSec: injected / seconds,
    edgeFrames: edge,
    transmitted,
    generated,
    consumed,
    silentFrees: silent,
    held,
    drops: Object.fromEntries(Object.entries(d).filter(([, x]) => x > 0)),
    napiErrors: s.napi.errors,
    xdpExceptions: s.xdp.exceptions,
    violations,
  };
  await s.stop();
  return result;
}

/** Replay frames ([port, hex]) through a fresh fuzz stack; returns the same checks' failures. */
export async function replayFrames(frames: Array<[number, string]>): Promise<{ errors: number; lost: number; canary: string; drops: Record<string, number>; transmitted: number; icmp: Record<string, number> }> {
  const { s, ports } = await fuzzStack();
  const u8 = s.umem.u8;
  const fs = s.umem.frameSize;
  for (let f = 0; f < s.umem.frames; f++) for (let k = 0; k < CANARY; k++) u8[f * fs + k] = CANARY_BYTE(k);
  let transmitted = 0;
  for (const p of ports) {
    p.peer = null;
    p.sink = () => void transmitted++;
  }
  await s.start();
  const enqueue = ports.map((p) => (p as unknown as { enqueue(a: number, l: number): boolean }).enqueue.bind(p));
  for (const [port, hex] of frames) {
    const bytes = Buffer.from(hex, 'hex');
    const a = s.pool.alloc();
    const start = s.pool.base(a) + fs - (bytes.length > 0 ? bytes.length : 1);
    u8.set(bytes, start);
    enqueue[port](start, bytes.length);
  }
  while (ports.some((p) => p.pending() > 0)) s.napi.kick();
  s.l2.neigh.tick();
  s.ipv4.expire();
  let canary = '';
  for (let f = 0; f < s.umem.frames && canary === ''; f++) {
    for (let k = 0; k < CANARY; k++) if (u8[f * fs + k] !== CANARY_BYTE(k)) canary = `slot ${f} byte ${k}`;
  }
  const lost = s.frames().lost;
  const out = { errors: s.napi.errors, lost, canary, drops: Object.fromEntries(Object.entries(s.graph.drops.toJSON()).filter(([, x]) => x > 0)), transmitted, icmp: s.ipv4.mib.icmp.toJSON() };
  await s.stop();
  return out;
}

import type { FramePool } from '../driver/pool.ts';
import type { Batch } from './batch.ts';
import { tick } from './clock.ts';
import { Counters } from './counters.ts';
import { grown } from './grow.ts';

/**
 * One box of the receive path (a VPP graph node, a Click element, a kernel function such as
 * ip_rcv). run() looks at packets v[0..n) of the batch and, for each, either enqueues it to one
 * next stage (graph.enqueue), drops it with a named reason (graph.drop), or takes it (a socket or
 * neighbour queue now owns the frame). Stages are monomorphic loops over typed arrays.
 */
export interface Stage {
  readonly name: string;
  /** Resolve next-stage ids and register drop reasons; called when the graph is (re)sealed. */
  init?(g: Graph): void;
  run(b: Batch, v: Uint16Array, n: number): void;
  /** Called after every dispatch, e.g. to push a port's pending TX batch. */
  flush?(): void;
}

/**
 * Per-packet tracing (`softnet trace`), attached with Graph.tracer. When one is attached, a
 * batch's packets are offered to select() once, at the dispatch's entry; the ones it marks run
 * through the graph alone (a dispatch of one, in their place in the batch, so order is kept), and
 * the tracer sees each stage run of them: every counter that moves in between is theirs. The
 * untraced packets of the batch run as usual, as vectors. Without a tracer: one test per dispatch.
 */
export interface GraphTracer {
  /** Mark packets of b (indexes 0..n) to trace in hit[i] (1); returns how many were marked. */
  select(b: Batch, n: number, entry: number, hit: Uint8Array): number;
  /** A marked packet i is about to enter the graph at `entry`. */
  begin(b: Batch, i: number, entry: number): void;
  /** Stage s is about to run v[0..k) (the traced packet or what it became). */
  before(b: Batch, s: number, v: Uint16Array, k: number): void;
  /** Stage s ran: the graph's queues (Graph.queued) hold where its packets went. */
  after(b: Batch, s: number, v: Uint16Array, k: number): void;
  /** The traced packet's dispatch is over (stages flushed). */
  end(b: Batch): void;
}

/** How often the runtime times a stage run: one dispatch in SAMPLE_EVERY (clock reads are not free). */
export const SAMPLE_EVERY = 16;
/** A packet revisiting stages more often than this in one dispatch is dropped as a loop. */
const MAX_PASSES = 16;

/**
 * The stage graph and its runtime. Runs a batch stage by stage (vector passes): each stage's
 * loop stays hot in the instruction cache and per-stage time costs two clock reads for one stage
 * run per sampled dispatch (0.2-0.6% measured, bench/micro-stages.ts). Measured there too: a
 * trivial 3-step chain runs 1.8-2.3x faster fused into one stage (run to completion) than as
 * three stages; real stages do more work per packet, so the gap is smaller. This is the one
 * place the execution strategy lives (see README, design).
 */
export class Graph {
  readonly stages: Stage[] = [];
  private readonly byName = new Map<string, number>();
  private vec: Uint16Array[] = [];
  private vn = new Int32Array(0);
  private spare: Uint16Array;
  private sealed = false;
  /**
   * Per stage, a call of its run() / flush() with a call site of its own (made by seal()). The
   * dispatch loop calls every stage class from one site: `stages[s].run` there is a megamorphic
   * property load, a LoadIC builtin call per stage run (with the other IC misses ~3.5% of the
   * router's CPU: perf, bench/profile-router.ts). Each trampoline's `s.run` sees one class; it
   * loads the method on every call, so a stage whose run is replaced later is still honoured.
   */
  private runs: Array<(b: Batch, v: Uint16Array, n: number) => void> = [];
  /** Every stage's flush() in stage order, from one generated function (one call per dispatch). */
  private flushAll: () => void = () => {};

  /** Drop reasons, e.g. `ip.InHdrErrors`; the frame returns to the pool. */
  readonly drops = new Counters('drop');
  /** Per drop reason id: the stages whose init() registered it (dropwatch's stage column). */
  readonly reasonStages: string[][] = [];
  private readonly loopDrop: number;
  private initStage = '';
  /** Drops by every stage so far, and per stage (the runs' difference of it): `softnet top`. */
  private dropped = 0;
  stageDrops = new Float64Array(0);
  /** Per-packet tracing; null (the default) costs one test per dispatch. */
  tracer: GraphTracer | null = null;
  private traceHit: Uint8Array;

  // Runtime, VPP `show runtime` style: per stage calls and packets always, clocks on samples.
  calls = new Float64Array(0);
  packets = new Float64Array(0);
  sampledNs = new Float64Array(0);
  sampledPackets = new Float64Array(0);
  private dispatches = 0;
  private probeNext = 0;
  private lastRuns = 0;
  /** Set to 0 to disable timing entirely, 1 to time every dispatch. */
  sampleEvery = SAMPLE_EVERY;

  constructor(
    readonly pool: FramePool,
    readonly capacity = 256,
  ) {
    this.spare = new Uint16Array(capacity);
    this.traceHit = new Uint8Array(capacity);
    this.loopDrop = this.drops.id('graph.loop');
  }

  /** Add a stage; returns its id. Names are unique. */
  add(stage: Stage): number {
    if (this.byName.has(stage.name)) throw new Error(`graph: a stage named ${stage.name} exists already`);
    const id = this.stages.length;
    this.stages.push(stage);
    this.byName.set(stage.name, id);
    this.vec.push(new Uint16Array(this.capacity));
    this.calls = grown(this.calls, id + 1);
    this.packets = grown(this.packets, id + 1);
    this.sampledNs = grown(this.sampledNs, id + 1);
    this.sampledPackets = grown(this.sampledPackets, id + 1);
    this.stageDrops = grown(this.stageDrops, id + 1);
    this.vn = grown(this.vn, id + 1);
    this.sealed = false;
    return id;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Id of a stage by name; throws naming the stage when it is missing (a wiring bug). */
  id(name: string): number {
    const id = this.byName.get(name);
    if (id === undefined) throw new Error(`graph: no stage named ${name}`);
    return id;
  }

  /** Register a drop reason (setup time). */
  reason(name: string): number {
    const id = this.drops.id(name);
    const owners = (this.reasonStages[id] ??= []);
    if (this.initStage !== '' && !owners.includes(this.initStage)) owners.push(this.initStage);
    return id;
  }

  /** Call every stage's init() (again): after adding stages, before dispatching. */
  seal(): void {
    for (const s of this.stages) {
      this.initStage = s.name;
      s.init?.(this);
    }
    this.initStage = '';
    this.runs = this.stages.map((st) => trampoline<(b: Batch, v: Uint16Array, n: number) => void>(st, 'return (b, v, n) => s.run(b, v, n);'));
    this.flushAll = flusher(this.stages.filter((st) => st.flush !== undefined));
    this.sealed = true;
  }

  /** Packets queued for stage s now (a tracer's after(): where the traced packet went). */
  queued(s: number): number {
    return this.vn[s];
  }

  /** The j-th packet index queued for stage s. */
  queuedAt(s: number, j: number): number {
    return this.vec[s][j];
  }

  enqueue(stage: number, i: number): void {
    this.vec[stage][this.vn[stage]++] = i;
  }

  drop(b: Batch, i: number, reason: number): void {
    this.drops.v[reason]++;
    this.dropped++;
    this.pool.free(b.addr[i]);
  }

  /** Run every packet of b from stage `entry` until each is sent, taken or dropped. */
  dispatch(b: Batch, entry: number): void {
    if (!this.sealed) this.seal();
    const n = b.n;
    if (n === 0) return;
    if (this.tracer !== null) this.dispatchTraced(b, entry, n, this.tracer);
    else this.run(b, entry, 0, n);
  }

  /** Packets from..to of b as one vector from `entry` (dispatch's body). */
  private run(b: Batch, entry: number, from: number, to: number): void {
    // The columns as locals: they are replaced only by add(), never during a dispatch.
    const vn = this.vn;
    const v0 = this.vec[entry];
    const n = to - from;
    for (let i = 0; i < n; i++) v0[i] = from + i;
    vn[entry] = n;
    // A sampled dispatch times one stage run, taking turns over the runs of a dispatch so each
    // stage is sampled as often as it runs: two clock reads per sample (clock reads allocate in
    // Node, see clock.ts; timing every stage of a sample cost 2.5x the garbage).
    let probe = -1;
    if (this.sampleEvery > 0 && this.dispatches++ % this.sampleEvery === 0) {
      probe = this.probeNext++ % (this.lastRuns > 0 ? this.lastRuns : 1);
    }
    const fns = this.runs;
    const stageDrops = this.stageDrops;
    const count = fns.length;
    let runs = 0;
    let pass = 0;
    for (; pass < MAX_PASSES; pass++) {
      let ran = false;
      for (let s = 0; s < count; s++) {
        const k = vn[s];
        if (k === 0) continue;
        ran = true;
        const v = this.take(s, k);
        const d0 = this.dropped;
        if (runs++ === probe) {
          const t0 = tick();
          fns[s](b, v, k);
          this.sampledNs[s] += (tick() - t0) * 1e6;
          this.sampledPackets[s] += k;
        } else {
          fns[s](b, v, k);
        }
        stageDrops[s] += this.dropped - d0;
      }
      if (!ran) break;
    }
    if (probe >= 0) this.lastRuns = runs;
    // Passes that ended with nothing queued leave nothing to drop.
    if (pass === MAX_PASSES) this.dropLooping(b);
    this.flushAll();
  }

  /** Stage s's input vector (k packets) taken for a run and counted; the stage may enqueue to itself. */
  private take(s: number, k: number): Uint16Array {
    const v = this.vec[s];
    this.vec[s] = this.spare;
    this.spare = v;
    this.vn[s] = 0;
    this.calls[s]++;
    this.packets[s] += k;
    return v;
  }

  /** After MAX_PASSES: anything still queued is looping between stages (dropped). */
  private dropLooping(b: Batch): void {
    const count = this.stages.length;
    for (let s = 0; s < count; s++) {
      const k = this.vn[s];
      for (let j = 0; j < k; j++) this.drop(b, this.vec[s][j], this.loopDrop);
      this.vn[s] = 0;
    }
  }

  /**
   * A batch under a tracer: the untraced runs of packets as vectors, each marked packet alone
   * between them (batch order kept), its stage runs shown to the tracer. Only marked packets pay.
   */
  private dispatchTraced(b: Batch, entry: number, n: number, t: GraphTracer): void {
    const hit = this.traceHit;
    if (t.select(b, n, entry, hit) === 0) {
      this.run(b, entry, 0, n);
      return;
    }
    let from = 0;
    for (let i = 0; i < n; i++) {
      if (hit[i] === 0) continue;
      hit[i] = 0;
      if (i > from) this.run(b, entry, from, i);
      this.runTraced(b, entry, i, t);
      from = i + 1;
    }
    if (from < n) this.run(b, entry, from, n);
  }

  /** One traced packet through the graph (the slow path: no sampling, the tracer around each run). */
  private runTraced(b: Batch, entry: number, i: number, t: GraphTracer): void {
    t.begin(b, i, entry);
    this.vec[entry][0] = i;
    this.vn[entry] = 1;
    const stages = this.stages;
    const count = stages.length;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      let ran = false;
      for (let s = 0; s < count; s++) {
        const k = this.vn[s];
        if (k === 0) continue;
        ran = true;
        const v = this.take(s, k);
        const d0 = this.dropped;
        t.before(b, s, v, k);
        this.runs[s](b, v, k);
        this.stageDrops[s] += this.dropped - d0;
        t.after(b, s, v, k);
      }
      if (!ran) break;
    }
    this.dropLooping(b);
    this.flushAll();
    t.end(b);
  }

  /** Per-stage runtime rows (VPP `show runtime`). */
  runtime(): RuntimeRow[] {
    return this.stages.map((s, id) => ({
      name: s.name,
      calls: this.calls[id],
      packets: this.packets[id],
      packetsPerCall: this.calls[id] ? this.packets[id] / this.calls[id] : 0,
      nsPerPacket: this.sampledPackets[id] ? this.sampledNs[id] / this.sampledPackets[id] : 0,
      drops: this.stageDrops[id],
    }));
  }

  clearRuntime(): void {
    this.calls.fill(0);
    this.packets.fill(0);
    this.sampledNs.fill(0);
    this.sampledPackets.fill(0);
    this.stageDrops.fill(0);
  }
}

export interface RuntimeRow {
  name: string;
  calls: number;
  packets: number;
  packetsPerCall: number;
  nsPerPacket: number;
  /** Packets this stage dropped (named reasons); the rest it enqueued on or took. */
  drops: number;
}

/**
 * `body` compiled as a function of its own and called with the stage as `s`: see Graph.runs. The
 * body is one of two constant strings; the stage's name (unique in a graph) makes each source
 * distinct, because V8 caches `new Function` by source, and closures of one cached function share
 * their feedback. Not an index: seal() runs again as stages are added, and an index then names
 * another stage, whose class made the shared feedback polymorphic (a LoadIC call per flush).
 */
function trampoline<F>(s: Stage, body: string): F {
  return new Function('s', `${body} // ${JSON.stringify(s.name)}`)(s) as F;
}

/**
 * One function calling each stage's flush() in turn, each from a call site of its own (so each
 * site sees one class, as a trampoline's does): one call per dispatch instead of one per stage.
 * Keyed by the stages' names, like the trampolines.
 */
function flusher(stages: Stage[]): () => void {
  const body = stages.map((_, k) => `s[${k}].flush();`).join(' ');
  return new Function('s', `return () => { ${body} }; // ${JSON.stringify(stages.map((st) => st.name))}`)(stages.slice()) as () => void;
}

import type { Port } from '../driver/port.ts';
import { Batch } from './batch.ts';
import { tick } from './clock.ts';
import type { Graph } from './graph.ts';
import type { NetDevice, NetDevices } from './netdev.ts';
import type { SoftnetStat } from './softnet-stat.ts';
import type { Taps } from './taps.ts';
import type { TimerWheel } from './timer-wheel.ts';
import type { XdpHook } from './xdp.ts';
import { grown } from './grow.ts';

/**
 * Retry delays for starved ports while the loop idles: from 1 ms (the pool usually has frames
 * again within a round) doubling to 64 ms (a pool held by a socket nobody reads costs one retry
 * per 64 ms, not a spin). virtio_net's refill_work waits HZ/2.
 */
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 64;

export interface NapiOptions {
  /** Frames per port per turn (napi weight). */
  weight?: number;
  /** Frames per round over all ports (netdev_budget). */
  budget?: number;
  /** Time limit per round in ms (netdev_budget_usecs / 1000). */
  timeLimitMs?: number;
  /** Never re-arm interrupts: poll on every event-loop turn (costs a core, saves the wakeup). */
  busyPoll?: boolean;
  /**
   * While the loop has work, ports that are idle keep their interrupt masked and are polled once
   * per round instead (napi_defer_hard_irqs); all are armed when the loop runs out of work. An
   * armed AF_XDP socket sits on its wait queue, and every frame it transmits then takes the
   * wait-queue and epoll locks to offer a wakeup nobody wants (~90 ns per forwarded packet).
   * Default true.
   */
  deferHardIrqs?: boolean;
  /**
   * Squeezed rounds run again at once, up to this many times within the time limit, before the
   * loop yields to the event loop (the kernel's __do_softirq restarts 10 times within 2 ms, then
   * defers to ksoftirqd). 0 = yield after every round. Default 64: each yield costs a
   * setImmediate (~500 B of garbage here), so the time limit, not the count, should end a turn.
   */
  maxRestarts?: number;
  /** The XDP hook: devices with a filter enter the graph at `xdp` instead of `eth-input`. */
  xdp?: XdpHook | null;
  /** ptype_all taps: see every received frame before the XDP hook. */
  taps?: Taps | null;
  /** The protocol timer wheel, advanced after each turn's rounds (run_timer_softirq). */
  timers?: TimerWheel | null;
}

/**
 * net_rx_action on the Node event loop. A port's interrupt (armIrq) puts it on the poll list;
 * a round polls the list round-robin, `weight` frames per port per turn, until the list is empty,
 * `budget` frames were done or the time limit passed. Work left over counts `time_squeeze` and
 * continues on the next event-loop turn (setImmediate), so timers and sockets still run between
 * rounds; a port that returned less than its weight is drained and gets its interrupt re-armed.
 */
export class Napi {
  readonly weight: number;
  readonly budget: number;
  readonly timeLimitMs: number;
  readonly busyPoll: boolean;
  readonly deferHardIrqs: boolean;
  readonly maxRestarts: number;
  /** Event-loop turns that ran rounds (interrupts and continuations). */
  turns = 0;
  /** Frames processed by all rounds. */
  work = 0;
  /** Rounds run, and rounds that ended squeezed (the kernel's per-CPU time_squeeze). */
  rounds = 0;
  squeezedRounds = 0;
  /** Exceptions out of the graph (a stage bug): counted, logged once, the loop goes on. */
  errors = 0;
  /** Refill retries for starved ports (after turns and from the retry timer). */
  refillRetries = 0;
  /** Frames the end-of-turn recheck found (each saved a wake-up), see recheck(). */
  rechecked = 0;
  /** Interrupts armed (armIrq calls), and ports deferred (masked while the loop was busy). */
  arms = 0;
  defers = 0;

  private readonly batch: Batch;
  private readonly xdp: XdpHook | null;
  private readonly taps: Taps | null;
  private readonly timers: TimerWheel | null;
  private readonly devices: NetDevice[] = [];
  private readonly ports: Port[] = [];
  private readonly irqs: Array<() => void> = [];
  private processed = new Float64Array(0);
  private dropped = new Float64Array(0);
  private squeeze = new Float64Array(0);
  // The poll list: a ring of queue indexes; inList marks members.
  private list = new Int32Array(0);
  private inList = new Uint8Array(0);
  private head = 0;
  private len = 0;
  // Interrupt state per queue: armed (armIrq called and not disarmed since: a fired interrupt
  // keeps its handle in epoll, so re-arming it is cheap) and deferred (masked while the loop is
  // busy, polled once per round, armed when the loop goes idle).
  private armed = new Uint8Array(0);
  private deferred = new Uint8Array(0);
  private nDeferred = 0;
  private running = false;
  private inRound = false;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private ethId = -1;
  private xdpId = -1;
  // Starved ports (Port.refill false, reported by onStarved): a port whose fill ring ran dry
  // gets no interrupt, so nothing else would ever poll it again. Retried after every turn and,
  // while the loop idles, by one JS timer; nStarved is the only test a turn pays otherwise.
  private starved = new Uint8Array(0);
  private nStarved = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs = RETRY_MIN_MS;
  private readonly retryFn = (): void => {
    this.retryTimer = null;
    if (!this.running || this.nStarved === 0) return;
    this.refillStarved();
    if (this.nStarved > 0) {
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.armRetry();
    }
  };
  // Bound once: scheduling a round allocates no closure.
  private readonly turnFn = (): void => {
    this.immediate = null;
    this.turn();
  };

  constructor(
    readonly graph: Graph,
    readonly devs: NetDevices,
    opts: NapiOptions = {},
  ) {
    this.weight = opts.weight ?? 64;
    this.budget = opts.budget ?? 300;
    this.timeLimitMs = opts.timeLimitMs ?? 2;
    this.busyPoll = opts.busyPoll ?? false;
    this.deferHardIrqs = opts.deferHardIrqs ?? true;
    this.maxRestarts = opts.maxRestarts ?? 64;
    this.xdp = opts.xdp ?? null;
    this.taps = opts.taps ?? null;
    this.timers = opts.timers ?? null;
    if (!Number.isInteger(this.weight) || this.weight < 1 || this.weight > graph.capacity) {
      throw new Error(`napi: weight ${this.weight} must be an integer in 1..${graph.capacity} (the graph's vector capacity)`);
    }
    if (!(this.budget >= 1)) throw new Error(`napi: budget ${this.budget} must be ≥ 1`);
    this.batch = new Batch(graph.capacity);
  }

  /** Register a port device (not a VLAN sub-interface); returns its queue index here. */
  add(dev: NetDevice): number {
    if (dev.vlanId !== 0) throw new Error(`napi: ${dev.name} is a VLAN sub-interface; add its port device`);
    if (this.devices.includes(dev)) throw new Error(`napi: ${dev.name} is polled already`);
    if (dev.port.batchSize < this.weight) throw new Error(`napi: ${dev.name}'s port takes batches of ${dev.port.batchSize}, below the weight ${this.weight}`);
    const q = this.devices.length;
    this.devices.push(dev);
    this.ports.push(dev.port);
    this.irqs.push(() => this.irq(q));
    dev.port.onStarved = () => this.starve(q);
    this.processed = grown(this.processed, q + 1);
    this.dropped = grown(this.dropped, q + 1);
    this.squeeze = grown(this.squeeze, q + 1);
    // Rebuild the (empty or not) poll list with room for the new queue.
    const list = new Int32Array(q + 1);
    for (let k = 0; k < this.len; k++) list[k] = this.list[(this.head + k) % this.list.length];
    this.list = list;
    this.head = 0;
    this.inList = grown(this.inList, q + 1);
    this.starved = grown(this.starved, q + 1);
    this.armed = grown(this.armed, q + 1);
    this.deferred = grown(this.deferred, q + 1);
    if (this.running) {
      this.arm(q);
      if (!dev.port.refill()) this.starve(q);
    }
    return q;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.resolve();
    this.running = true;
    for (let q = 0; q < this.ports.length; q++) {
      this.arm(q);
      // Opened (or left) starved: refill() reports no transition then, so ask.
      if (!this.ports[q].refill()) this.starve(q);
    }
  }

  stop(): void {
    this.running = false;
    for (const p of this.ports) p.disarmIrq();
    this.armed.fill(0);
    this.deferred.fill(0);
    this.nDeferred = 0;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.inList.fill(0);
    this.len = 0;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.starved.fill(0);
    this.nStarved = 0;
    this.retryMs = RETRY_MIN_MS;
  }

  /**
   * One event-loop turn of softirq work (__do_softirq): a round, then while work remains more
   * rounds, up to maxRestarts and the time limit; then yield (setImmediate) if work remains.
   * Yielding per ~2 ms instead of per round keeps the loop's garbage (one Immediate per yield)
   * low enough for no GC under a flood, and timers still run within ~2 ms.
   */
  private turn(): void {
    if (!this.running || this.inRound) return;
    this.turns++;
    const t0 = tick();
    this.run(t0);
    // Busy-poll spins for the whole time limit: an idle round is ~50 ns, so a count would end
    // the turn within microseconds and the yields' garbage (~13 MB/s) would trigger a
    // scavenge every second, the p99.9 of the latency bench.
    const busy = this.busyPoll;
    const max = busy ? Infinity : this.maxRestarts;
    const mask = busy ? 63 : 3;
    for (let r = 1; r <= max && this.running; r++) {
      // The clock every 4th round only (64th when spinning): a round is ≤ budget frames, far
      // below the time limit.
      if ((r & mask) === 0 && tick() - t0 >= this.timeLimitMs) break;
      if (this.len > 0) this.run(t0);
      else if (busy || this.recheck() === 0) break;
    }
    if (this.nStarved !== 0) this.refillStarved();
    // Timers due by now fire here, between rounds and outside any dispatch, on the clock the
    // rounds read last (one division when nothing is due).
    if (this.timers !== null) this.timers.poll();
  }

  /**
   * One net_rx_action round over the poll list; returns frames processed. If work remains at
   * the end, a continuation is scheduled with setImmediate (the caller may run more rounds first).
   */
  round(): number {
    const w = this.work;
    this.run(tick());
    return this.work - w;
  }

  /**
   * The round itself, in a turn that started at t0. Clock reads allocate (clock.ts), so the time
   * limit is checked every 8 polls here and every 4 rounds in turn(); with the default
   * weight/budget only the budget ends a round.
   */
  private run(t0: number): void {
    if (!this.running || this.inRound) return;
    this.inRound = true;
    this.rounds++;
    const weight = this.weight;
    let work = 0;
    let idle = 0;
    let polls = 0;
    while (this.len > 0) {
      const q = this.list[this.head];
      if (++this.head === this.list.length) this.head = 0;
      this.len--;
      const n = this.poll(q, weight);
      work += n;
      if (n < weight && !this.busyPoll) {
        // Drained: leave the list (napi_complete_done). Re-arm the interrupt, or, while other
        // ports still have work, keep it masked and poll the port once per round (deferred).
        this.inList[q] = 0;
        if (this.deferHardIrqs && this.len > 0) this.defer(q);
        else this.armIrq(q);
      } else {
        this.push(q);
      }
      if (n === 0) {
        // Busy-poll: a whole pass over the list found nothing, end the round.
        if (this.busyPoll && ++idle >= this.len) break;
        continue;
      }
      idle = 0;
      if (work >= this.budget || ((++polls & 7) === 0 && tick() - t0 >= this.timeLimitMs)) {
        if (this.len > 0) this.squeezed();
        break;
      }
    }
    if (this.deferHardIrqs && !this.busyPoll) work += this.deferral(weight);
    this.inRound = false;
    this.work += work;
    if (this.len > 0 && this.running && this.immediate === null) this.immediate = setImmediate(this.turnFn);
  }

  /**
   * End of a round with interrupt deferral. Work left: mask the interrupts of the other idle
   * ports too (an armed socket pays a wakeup attempt per transmitted frame) and poll every
   * deferred port once (one native call each when empty), back onto the list if it got frames.
   * No work left: the loop goes idle, every deferred port is armed.
   */
  private deferral(weight: number): number {
    let work = 0;
    if (this.len > 0) {
      const armed = this.armed;
      for (let q = 0; q < armed.length; q++) {
        if (armed[q] === 0) continue;
        // A port being polled needs no interrupt either (one that fired is still in epoll).
        if (this.inList[q] === 0) this.defer(q);
        else this.disarm(q);
      }
    }
    if (this.nDeferred === 0) return 0;
    const deferred = this.deferred;
    for (let q = 0; q < deferred.length; q++) {
      if (deferred[q] === 0 || this.inList[q] !== 0) continue;
      // The poll itself (rx on an empty ring) makes no syscall outside busy polling.
      const n = this.poll(q, weight);
      work += n;
      if (n > 0) {
        deferred[q] = 0;
        this.nDeferred--;
        this.inList[q] = 1;
        this.push(q);
      }
    }
    if (this.len === 0) {
      for (let q = 0; q < deferred.length; q++) {
        if (deferred[q] !== 0) this.armIrq(q);
      }
    }
    return work;
  }

  /**
   * The poll list ran empty and every interrupt is armed: look at each port's ring once more
   * before the turn ends (virtio-net's virtqueue_poll after napi_complete_done). What arrived
   * while the turn ran is processed now, not after a return to the event loop, an epoll wake-up
   * and a callback into JS (~15 µs here). Above all a local peer's answer: a veth's or TAP's peer
   * stack runs inside our transmit, so a ping's reply is on the ring when the request's send
   * returns. One rx call per port per turn; a port that had a whole weight goes on the list.
   */
  private recheck(): number {
    this.inRound = true;
    const weight = this.weight;
    let work = 0;
    for (let q = 0; q < this.ports.length; q++) {
      if (this.inList[q] !== 0) continue;
      const n = this.poll(q, weight);
      work += n;
      if (n === weight) {
        this.inList[q] = 1;
        this.push(q);
      }
    }
    this.inRound = false;
    this.work += work;
    this.rechecked += work;
    return work;
  }

  /** Mask a port's interrupt while the loop is busy (napi_defer_hard_irqs). */
  private defer(q: number): void {
    this.disarm(q);
    if (this.deferred[q] === 0) {
      this.deferred[q] = 1;
      this.nDeferred++;
      this.defers++;
    }
  }

  /** Take the port's interrupt out of epoll (the native side closes its handle). */
  private disarm(q: number): void {
    if (this.armed[q] === 0) return;
    this.armed[q] = 0;
    this.ports[q].disarmIrq();
  }

  private armIrq(q: number): void {
    if (this.deferred[q] !== 0) {
      this.deferred[q] = 0;
      this.nDeferred--;
    }
    this.armed[q] = 1;
    this.arms++;
    this.ports[q].armIrq(this.irqs[q]);
  }

  /**
   * Put every queue on the poll list and run one round now, as if all interrupts fired (tests,
   * benches, a caller driving the loop itself). Requires start().
   */
  kick(): number {
    if (!this.running) throw new Error('napi: kick() before start()');
    for (let q = 0; q < this.ports.length; q++) {
      if (this.deferred[q] !== 0) {
        this.deferred[q] = 0;
        this.nDeferred--;
      }
      if (this.inList[q] === 0) {
        this.inList[q] = 1;
        this.push(q);
      }
    }
    return this.round();
  }

  /** Per-queue /proc/net/softnet_stat rows. */
  stat(): SoftnetStat[] {
    return this.devices.map((d, q) => ({
      dev: d.name,
      queue: this.ports[q].queue,
      processed: this.processed[q],
      dropped: this.dropped[q],
      time_squeeze: this.squeeze[q],
    }));
  }

  clearStat(): void {
    this.processed.fill(0);
    this.dropped.fill(0);
    this.squeeze.fill(0);
    this.rounds = 0;
    this.squeezedRounds = 0;
    this.turns = 0;
  }

  /** Poll one queue: port.rx(max) -> batch -> taps -> graph. Returns frames taken. */
  private poll(q: number, max: number): number {
    const port = this.ports[q];
    const n = port.rx(max);
    if (n === 0) return 0;
    const devIndex = this.devices[q].index;
    const b = this.batch;
    const rxAddr = port.rxAddr;
    const rxLen = port.rxLen;
    this.processed[q] += n;
    if (!this.devices[q].up) {
      for (let j = 0; j < n; j++) port.pool.free(rxAddr[j]);
      this.dropped[q] += n;
      return n;
    }
    b.n = 0;
    for (let j = 0; j < n; j++) {
      if (b.push(rxAddr[j], rxLen[j], devIndex) < 0) {
        port.pool.free(rxAddr[j]);
        this.dropped[q]++;
      }
    }
    if (this.taps !== null && this.taps.count > 0) this.taps.rxBatch(port.umem.u8, b, b.n, devIndex);
    const entry = this.xdpId >= 0 && this.xdp!.enabled[devIndex] !== 0 ? this.xdpId : this.ethId;
    try {
      this.graph.dispatch(b, entry);
    } catch (e) {
      this.stageError(e);
    }
    return n;
  }

  private irq(q: number): void {
    if (!this.running) return;
    if (this.inList[q] === 0) {
      this.inList[q] = 1;
      this.push(q);
    }
    // The interrupt handler runs the softirq at once (we are already in an event-loop callback).
    if (!this.inRound && this.immediate === null) this.turn();
  }

  private arm(q: number): void {
    if (this.busyPoll) {
      if (this.inList[q] === 0) {
        this.inList[q] = 1;
        this.push(q);
      }
      if (this.immediate === null) this.immediate = setImmediate(this.turnFn);
    } else {
      this.armIrq(q);
    }
  }

  /** A port reported it is starved (Port.onStarved, or refill() false at start/add). */
  private starve(q: number): void {
    if (!this.running || this.starved[q] !== 0) return;
    this.starved[q] = 1;
    this.nStarved++;
    if (this.retryTimer === null) this.armRetry();
  }

  private armRetry(): void {
    this.retryTimer = setTimeout(this.retryFn, this.retryMs);
    // The ports' interrupts keep a running stack alive; this timer alone should not.
    this.retryTimer.unref();
  }

  /**
   * Retry the fill rings of starved ports. Every port's completion ring is reaped first: a port
   * that sent a burst and then neither sends nor receives again keeps those frames from the
   * pool for good otherwise (its rx()/tx() are where it reaps).
   */
  private refillStarved(): void {
    this.refillRetries++;
    const ports = this.ports;
    for (let q = 0; q < ports.length; q++) ports[q].reap();
    for (let q = 0; q < ports.length; q++) {
      if (this.starved[q] !== 0 && ports[q].refill()) {
        this.starved[q] = 0;
        this.nStarved--;
      }
    }
    if (this.nStarved === 0) {
      if (this.retryTimer !== null) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.retryMs = RETRY_MIN_MS;
    }
  }

  private push(q: number): void {
    let t = this.head + this.len;
    if (t >= this.list.length) t -= this.list.length;
    this.list[t] = q;
    this.len++;
  }

  private squeezed(): void {
    this.squeezedRounds++;
    for (let k = 0; k < this.len; k++) this.squeeze[this.list[(this.head + k) % this.list.length]]++;
  }

  private resolve(): void {
    this.ethId = this.graph.id('eth-input');
    if (this.xdp !== null) {
      if (!this.graph.has('xdp')) throw new Error('napi: an XDP hook was given but the graph has no stage named xdp; add it');
      this.xdpId = this.graph.id('xdp');
    }
  }

  private stageError(e: unknown): void {
    this.errors++;
    if (this.errors === 1) console.error(`napi: a stage threw (${e instanceof Error ? e.stack : String(e)}); frames of that batch may be lost`);
  }
}

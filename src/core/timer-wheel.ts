import { coarseClock, tick } from './clock.ts';
import { grown } from './grow.ts';

/** Called when a timer of its kind expires, with the timer's argument (a connection id...). */
export type TimerHandler = (arg: number, id: number) => void;

export interface TimerWheelOptions {
  /** Milliseconds per slot (the kernel's jiffy). Default 1. */
  resolutionMs?: number;
  /** Slots in the wheel, a power of two: timers within slots × resolution go straight in. Default 1024. */
  slots?: number;
  /** Timers preallocated (the arrays double when full). Default 256. */
  capacity?: number;
  /**
   * The clock in ms (tests: a manual one). Default: the poll loop's coarse clock — as last read
   * for poll(), read afresh (tick()) when the idle timer fires.
   */
  now?: () => number;
  /**
   * Keep one JS timer for the earliest expiry so timers fire while the poll loop is idle.
   * Default true; tests driving advance() themselves turn it off.
   */
  wake?: boolean;
}

const NONE = -1;

function coarseNow(): number {
  return coarseClock[0];
}

/**
 * One hashed timer wheel for every protocol timer of a stack (TCP retransmit, delayed ACK,
 * keepalive, TIME_WAIT; conntrack and neighbour timers can join): the kernel's timer wheel
 * (kernel/time/timer.c) in typed arrays. A timer is an integer id with a kind (its handler) and
 * an argument, made once per owner (a connection makes its timers when it is created); arm,
 * re-arm and cancel are O(1) list operations, with no allocation and no JS timer per owner.
 *
 * Slot t holds the timers due at tick t (ceil(expires / resolution)) within one revolution;
 * timers further out wait in an overflow list that is walked every half revolution, so a
 * visited slot never holds a timer that is not due yet. advance(now) fires everything due: the
 * poll loop calls it after its rounds (the coarse clock is fresh then) and, while the loop is
 * idle, one JS timer set to the earliest non-empty slot does (rescheduled only when an earlier
 * timer is armed, so at most about one setTimeout per expiry, not one per arm).
 *
 * Handlers run outside any graph dispatch (from the poll loop between rounds or from the JS
 * timer), so they may send packets. They may arm and cancel any timer, their own included.
 */
export class TimerWheel {
  readonly resolutionMs: number;
  readonly slots: number;
  private readonly mask: number;
  private readonly overflow: number;
  private readonly expired: number;
  private readonly now: () => number;
  private readonly pollNow: () => number;

  // Per timer: expiry (ms), its list (slot, overflow, expired) or NONE, links, kind, argument.
  private exp: Float64Array;
  private where: Int32Array;
  private nxt: Int32Array;
  private prv: Int32Array;
  private kindOf: Uint16Array;
  private argOf: Int32Array;
  private freeIds: Int32Array;
  private freeTop = 0;
  private used = 0;

  /** List heads: slots 0..slots-1, then the overflow list, then the expired list. */
  private readonly heads: Int32Array;
  private readonly handlers: TimerHandler[] = [];
  readonly kindNames: string[] = [];

  /** The last tick processed: every timer due at or before it has fired. */
  private cur: number;
  /** The tick at which the overflow list is walked next. */
  private cascadeAt: number;
  private readonly counts: Int32Array;
  /** Timers armed in the wheel's slots, and in the overflow list. */
  private near = 0;
  private far = 0;
  /** Fired since creation. */
  fired = 0;
  private inAdvance = false;

  // The one JS timer (idle driving).
  private readonly wake: boolean;
  private jsTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeTick = Infinity;
  private dirty = false;
  private stopped = false;
  private readonly wakeFn = (): void => {
    this.jsTimer = null;
    this.wakeTick = Infinity;
    this.advance(this.now());
    this.schedule();
  };

  constructor(opts: TimerWheelOptions = {}) {
    this.resolutionMs = opts.resolutionMs ?? 1;
    this.slots = opts.slots ?? 1024;
    if (!(this.resolutionMs > 0)) throw new Error(`timer wheel: resolution ${this.resolutionMs} ms must be > 0`);
    if (this.slots < 2 || (this.slots & (this.slots - 1)) !== 0) throw new Error(`timer wheel: ${this.slots} slots is not a power of two ≥ 2`);
    this.mask = this.slots - 1;
    this.overflow = this.slots;
    this.expired = this.slots + 1;
    this.heads = new Int32Array(this.slots + 2).fill(NONE);
    this.counts = new Int32Array(this.slots);
    this.now = opts.now ?? tick;
    this.pollNow = opts.now ?? coarseNow;
    this.wake = opts.wake ?? true;
    const cap = Math.max(8, opts.capacity ?? 256);
    this.exp = new Float64Array(cap);
    this.where = new Int32Array(cap).fill(NONE);
    this.nxt = new Int32Array(cap);
    this.prv = new Int32Array(cap);
    this.kindOf = new Uint16Array(cap);
    this.argOf = new Int32Array(cap);
    this.freeIds = new Int32Array(cap);
    this.cur = Math.floor(this.now() / this.resolutionMs);
    this.cascadeAt = this.cur + (this.slots >>> 1);
  }

  /** Register a handler (setup time); returns the kind id timers are made with. */
  kind(name: string, fn: TimerHandler): number {
    if (this.handlers.length === 0xffff) throw new Error('timer wheel: too many kinds');
    this.handlers.push(fn);
    this.kindNames.push(name);
    return this.handlers.length - 1;
  }

  /** Make a timer (not armed) that calls kind's handler with arg. Per owner, not per packet. */
  create(kind: number, arg: number): number {
    if (kind < 0 || kind >= this.handlers.length) throw new Error(`timer wheel: no kind ${kind}`);
    let id: number;
    if (this.freeTop > 0) id = this.freeIds[--this.freeTop];
    else {
      if (this.used === this.exp.length) this.grow();
      id = this.used++;
    }
    this.kindOf[id] = kind;
    this.argOf[id] = arg;
    this.where[id] = NONE;
    return id;
  }

  /** Cancel and give the id back. */
  destroy(id: number): void {
    this.cancel(id);
    this.freeIds[this.freeTop++] = id;
  }

  /** Timers made and not destroyed. */
  get live(): number {
    return this.used - this.freeTop;
  }

  /** Timers armed. */
  get pending(): number {
    return this.near + this.far + this.countList(this.expired);
  }

  isArmed(id: number): boolean {
    return this.where[id] !== NONE;
  }

  /** Arm (or re-arm) timer id to fire when the clock reaches `at` ms. O(1). */
  arm(id: number, at: number): void {
    if (this.where[id] !== NONE) this.unlink(id);
    this.exp[id] = at;
    const t = this.place(id);
    if (t < this.wakeTick && this.wake) {
      // Inside advance() the schedule waits for its end (handlers re-arm in bursts).
      if (this.inAdvance) this.dirty = true;
      else this.schedule();
    }
  }

  /** Disarm; a no-op when not armed. O(1). */
  cancel(id: number): void {
    if (this.where[id] !== NONE) this.unlink(id);
  }

  /** Fire what is due by the clock's last reading (the poll loop calls this after its rounds). */
  poll(): number {
    return this.advance(this.pollNow());
  }

  /**
   * Fire every timer due at `now` (ms). Returns how many fired. Cheap when nothing is due: one
   * division and a compare.
   */
  advance(now: number): number {
    const target = Math.floor(now / this.resolutionMs);
    if (target <= this.cur || this.inAdvance) return 0;
    this.inAdvance = true;
    const before = this.fired;
    try {
      const steps = Math.min(target - this.cur, this.slots);
      const heads = this.heads;
      for (let k = 0; k < steps; k++) {
        const t = this.cur + 1;
        // Set before firing: a handler arming for "now" lands in the next slot, not this one.
        this.cur = t;
        const s = t & this.mask;
        if (this.counts[s] === 0) continue;
        let id: number;
        while ((id = heads[s]) !== NONE) {
          this.unlink(id);
          this.fire(id);
        }
      }
      this.cur = target;
      if (target >= this.cascadeAt) this.cascade();
      let id: number;
      while ((id = heads[this.expired]) !== NONE) {
        this.unlink(id);
        this.fire(id);
      }
    } finally {
      this.inAdvance = false;
    }
    if (this.dirty) this.schedule();
    return this.fired - before;
  }

  /** Stop the JS timer (stack shutdown). Timers stay armed but only advance() fires them. */
  stop(): void {
    this.stopped = true;
    if (this.jsTimer !== null) clearTimeout(this.jsTimer);
    this.jsTimer = null;
    this.wakeTick = Infinity;
  }

  /**
   * The earliest tick advance() must run at: the first non-empty slot, or the overflow walk when
   * that comes first (a far timer may be due before the first near one). Infinity when none.
   * Slow path: scans up to a revolution of slot counts.
   */
  nextTick(): number {
    const walk = this.far > 0 ? this.cascadeAt : Infinity;
    if (this.near > 0) {
      for (let k = 1; k <= this.slots && this.cur + k < walk; k++) {
        if (this.counts[(this.cur + k) & this.mask] !== 0) return this.cur + k;
      }
    }
    return walk;
  }

  // ---- internals ------------------------------------------------------------------------------

  /** Put an unlinked timer on its list; returns its tick. */
  private place(id: number): number {
    let t = Math.ceil(this.exp[id] / this.resolutionMs);
    if (t <= this.cur) t = this.cur + 1;
    if (t - this.cur >= this.slots) {
      this.link(id, this.overflow);
      this.far++;
    } else {
      const s = t & this.mask;
      this.link(id, s);
      this.counts[s]++;
      this.near++;
    }
    return t;
  }

  /** Move overflow timers that are now within a revolution into their slots (due ones fire). */
  private cascade(): void {
    this.cascadeAt = this.cur + (this.slots >>> 1);
    let id = this.heads[this.overflow];
    this.heads[this.overflow] = NONE;
    this.far = 0;
    const nowMs = this.cur * this.resolutionMs;
    while (id !== NONE) {
      const next = this.nxt[id];
      this.where[id] = NONE;
      if (this.exp[id] <= nowMs) this.link(id, this.expired);
      else this.place(id);
      id = next;
    }
  }

  private fire(id: number): void {
    this.fired++;
    this.handlers[this.kindOf[id]](this.argOf[id], id);
  }

  private link(id: number, list: number): void {
    const h = this.heads[list];
    this.nxt[id] = h;
    this.prv[id] = NONE;
    if (h !== NONE) this.prv[h] = id;
    this.heads[list] = id;
    this.where[id] = list;
  }

  private unlink(id: number): void {
    const list = this.where[id];
    const n = this.nxt[id];
    const p = this.prv[id];
    if (p !== NONE) this.nxt[p] = n;
    else this.heads[list] = n;
    if (n !== NONE) this.prv[n] = p;
    this.where[id] = NONE;
    if (list < this.slots) {
      this.counts[list]--;
      this.near--;
    } else if (list === this.overflow) this.far--;
  }

  private countList(list: number): number {
    let k = 0;
    for (let id = this.heads[list]; id !== NONE; id = this.nxt[id]) k++;
    return k;
  }

  /** (Re)set the JS timer for the earliest timer, if any. */
  private schedule(): void {
    this.dirty = false;
    if (!this.wake || this.stopped) return;
    const t = this.nextTick();
    if (t === this.wakeTick) return;
    if (this.jsTimer !== null) clearTimeout(this.jsTimer);
    this.jsTimer = null;
    this.wakeTick = t;
    if (t === Infinity) return;
    const delay = Math.max(0, t * this.resolutionMs - this.now());
    this.jsTimer = setTimeout(this.wakeFn, delay);
    this.jsTimer.unref();
  }

  private grow(): void {
    const n = this.exp.length * 2;
    this.exp = grown(this.exp, n);
    this.where = grown(this.where, n, NONE);
    this.nxt = grown(this.nxt, n);
    this.prv = grown(this.prv, n);
    this.argOf = grown(this.argOf, n);
    this.freeIds = grown(this.freeIds, n);
    this.kindOf = grown(this.kindOf, n);
  }
}

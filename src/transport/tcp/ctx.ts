import { coarseClock, tick } from '../../core/clock.ts';
import type { TimerWheel } from '../../core/timer-wheel.ts';
import type { FramePool } from '../../driver/pool.ts';
import type { Ipv4 } from '../../ipv4/index.ts';
import { TcpOptions } from '../../wire/tcp.ts';
import type { LocalOut } from '../local-out.ts';
import type { SockMem } from '../sock-mem.ts';
import type { TransportSysctl } from '../sysctl.ts';
import { reno, type CongOps } from './cong.ts';
import { cubic } from './cubic.ts';
import { tupleMix } from './hash.ts';
import { TcpMib } from './mib.ts';
import { SynCookies } from './syncookies.ts';
import { DEFAULT_TCP_SYSCTL, type TcpSysctl } from './sysctl.ts';
import { TcpTable, type Listener } from './table.ts';
import { WAKE_ACCEPT, type Tcb } from './tcb.ts';

export const CONG_ALGOS: Readonly<Record<string, CongOps>> = { cubic, reno };

/** Drop reasons (graph ids), resolved by the stage's init. */
export interface TcpDrops {
  InErrs: number;
  InCsumErrors: number;
  notHost: number;
  flags: number;
  paws: number;
  oldData: number;
  overWindow: number;
  reset: number;
  invalidSyn: number;
  ackUnsent: number;
  tooOldAck: number;
  ofoDrop: number;
  listenOverflow: number;
  noSocket: number;
  closed: number;
  rcvqDrop: number;
  zeroWindow: number;
}

export interface TcpCtxOptions {
  sysctl?: Partial<TcpSysctl>;
  /** The clock, ms (tests): a one-element array read as now. Default: the poll loop's coarse clock. */
  clock?: Float64Array;
}

/**
 * State every part of TCP shares in one stack: UMEM views, the connection table, MIB, sysctls,
 * the ip-local-out ring, the timer wheel and its timer kinds, the per-batch flush list and the
 * list of connections with events for the application. One object, passed to the input, output
 * and timer functions (the kernel's struct net + tcp_hashinfo + per-CPU state, in one place).
 */
export class TcpCtx {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly mib = new TcpMib();
  readonly sysctl: TcpSysctl;
  readonly table: TcpTable;
  /** One parsed-options object, reused for every segment. */
  readonly opts = new TcpOptions();
  /** SACK blocks being built for an outgoing segment. */
  readonly sackOut = new Uint32Array(8);
  readonly clock: Float64Array;
  private readonly ownClock: boolean;
  drops!: TcpDrops;
  readonly cookies: SynCookies = new SynCookies(this);
  /** A cookie SYN-ACK to build over the SYN (listen.ts -> tcp-rcv): its ISN and our MSS. */
  cookieIsn = 0;
  cookieMss = 0;
  // Timer kinds in the wheel.
  kRtx = -1;
  kDack = -1;
  kKeep = -1;
  /** Connections that need output or an ACK at the end of this batch (tcp-rcv's flush). */
  readonly flush: Tcb[] = [];
  flushN = 0;
  /** Connections (and accepts) with events for the application. */
  private woken: Tcb[] = [];
  private wokenSpare: Tcb[] = [];
  private wokenN = 0;
  private wakeScheduled = false;
  private readonly wakeFn = (): void => this.runWakes();
  // RFC 5961 challenge ACK budget (per second).
  private challengeSec = 0;
  private challengeCount = 0;
  private readonly isnSecret = (Math.random() * 0x100000000) >>> 0;

  constructor(
    readonly pool: FramePool,
    readonly ipv4: Ipv4,
    readonly out: LocalOut,
    readonly mem: SockMem,
    readonly tsys: TransportSysctl,
    readonly wheel: TimerWheel,
    opts: TcpCtxOptions = {},
  ) {
    this.u8 = pool.umem.u8;
    this.dv = pool.umem.dv;
    this.sysctl = { ...DEFAULT_TCP_SYSCTL, ...opts.sysctl };
    this.table = new TcpTable(this.sysctl.tcp_max_conns);
    this.ownClock = opts.clock !== undefined;
    this.clock = opts.clock ?? coarseClock;
  }

  /** ms, as of the poll loop's last clock read (hot path). */
  now(): number {
    return this.clock[0];
  }

  /** Read the clock afresh (entries from the application, which may come after a long idle). */
  refresh(): number {
    if (!this.ownClock) tick();
    return this.clock[0];
  }

  /** TSval for a connection: ms since the clock's epoch, offset per connection (RFC 7323 5.4). */
  tsNow(t: Tcb): number {
    return (Math.floor(this.clock[0]) + t.tsOffset) >>> 0;
  }

  /** ISN (RFC 6528): a keyed hash of the 4-tuple plus a 4 µs clock. */
  isn(laddr: number, lport: number, raddr: number, rport: number): number {
    const h = tupleMix(this.isnSecret, laddr, raddr, (lport << 16) | rport);
    return ((h ^ (h >>> 16)) + Math.floor(this.clock[0] * 250)) >>> 0;
  }

  congOps(): CongOps {
    return CONG_ALGOS[this.sysctl.tcp_congestion_control] ?? cubic;
  }

  /** tcp_rmem/tcp_wmem defaults, bounded by the core maxima as Linux bounds SO_RCVBUF. */
  initialRcvbuf(): number {
    return this.sysctl.tcp_rmem[1];
  }

  /** An RFC 5961 challenge ACK may go out (tcp_challenge_ack_limit per second). */
  challengeAllowed(): boolean {
    const sec = Math.floor(this.clock[0] / 1000);
    if (sec !== this.challengeSec) {
      this.challengeSec = sec;
      this.challengeCount = 0;
    }
    return this.challengeCount++ < this.sysctl.tcp_challenge_ack_limit;
  }

  /** Put t on this batch's flush list (output and ACKs at the end of the batch). */
  toFlush(t: Tcb): void {
    if (t.onFlush) return;
    t.onFlush = true;
    this.flush[this.flushN++] = t;
  }

  /** Tell the application about events (WAKE_*) after the current dispatch, on a microtask. */
  wake(t: Tcb, events: number): void {
    const had = t.wakeFlags;
    t.wakeFlags = had | events;
    if (had !== 0) return;
    this.woken[this.wokenN++] = t;
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      queueMicrotask(this.wakeFn);
    }
  }

  /** An established connection whose listener went away before accepting it (reset by the layer). */
  unaccepted: (t: Tcb) => void = () => {};

  private runWakes(): void {
    this.wakeScheduled = false;
    // Two lists in turn: events raised by the application while this runs go to the other one
    // (and its own microtask).
    const list = this.woken;
    const n = this.wokenN;
    this.woken = this.wokenSpare;
    this.wokenSpare = list;
    this.wokenN = 0;
    // An application handler that throws must not lose the others' events: the first error is
    // rethrown after the loop (an uncaught exception, as from a node:net handler).
    let failed: unknown = null;
    for (let k = 0; k < n; k++) {
      const t = list[k];
      list[k] = NO_TCB;
      const ev = t.wakeFlags;
      t.wakeFlags = 0;
      try {
        if ((ev & WAKE_ACCEPT) !== 0) {
          const l = t.parent as Listener | null;
          t.parent = null;
          if (l !== null) l.acceptQueue--;
          if (l !== null && l.user !== null && l.id >= 0) l.user.onAccept(t);
          else this.unaccepted(t);
        }
        if (t.user !== null && (ev & ~WAKE_ACCEPT) !== 0) t.user.onWake(t, ev & ~WAKE_ACCEPT);
      } catch (e) {
        if (failed === null) failed = e;
      }
    }
    if (failed !== null) throw failed;
  }
}

const NO_TCB = null as unknown as Tcb;

import { grown } from '../core/grow.ts';
import { Counters } from '../core/counters.ts';
import type { FramePool } from '../driver/pool.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import type { LocalOut } from './local-out.ts';
import type { SockMem } from './sock-mem.ts';
import type { TransportSysctl } from './sysctl.ts';
import type { SockInfo } from './types.ts';
import { UDP, UDP_NAMES } from './udp-mib.ts';
import type { UdpQueue } from './udp-queue.ts';
import { UdpTable } from './udp-table.ts';

/** What the UDP parts need of a socket (UdpSocket implements it). */
export interface UdpSock {
  readonly id: number;
  readonly q: UdpQueue;
  /** SO_RCVBUF in bytes: the queue takes no more once q.bytes exceeds it. */
  rcvbuf: number;
  /** Datagrams this socket dropped (SO_RXQ_OVFL). */
  drops: number;
  /** sk_err: a pending error's errno name ('' none), set by an ICMP error (udp-err.ts). */
  soErr: string;
  /** 1 while on the ready list (a notification is pending). */
  ready: number;
  /** 1 when a batch reader ('readable' listener) is told at the end of the dispatch itself. */
  inline: number;
  /** At the end of the dispatch that queued data: tell the batch reader ('readable'). */
  batchReady(): void;
  /** On a microtask after that dispatch: 'message' listeners, iterators (and 'readable' if not told yet). */
  dataReady(): void;
  /** Hashed on a port (ss lists only those, as inet_diag does). */
  readonly bound: boolean;
  /** Its ss row. */
  info(): SockInfo;
  close(): unknown;
}

/**
 * The state of the UDP layer that its parts share — socket table, sockets by id, MIB, the UMEM
 * views, the transport's budget, ring and sysctls — and the ready list: udp-rcv marks a socket
 * when it queues a datagram (sk_data_ready), and then:
 *  - a batch reader (a 'readable' listener, reading with recvBatch) is told at the end of that
 *    dispatch, in udp-rcv's flush(): at most a vector of packets later, inside the poll loop, as
 *    a graph stage would be. A poll-loop turn runs many dispatches (up to ~2 ms); told only after
 *    the turn, a reader met queues full of what it could have read (measured by the first UDP
 *    bench: the app read 0.3 of 2.6 Mpps, the rest refused as MemErrors);
 *  - every other consumer ('message', for await) on one microtask after the turn: Node-style
 *    code never runs inside a dispatch.
 * Either way the application's sends go through the ip-local-out ring, and an exception in its
 * handler is rethrown on a microtask, so it cannot break a stage.
 */
export class UdpState {
  readonly table = new UdpTable();
  /** Every open socket by its table id (null: a free id): what the stack lists, counts and closes. */
  socks: Array<UdpSock | null> = [];
  readonly counters = new Counters('Udp', UDP_NAMES);
  readonly pool: FramePool;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  /** Bytes one held frame costs against SO_RCVBUF. */
  readonly truesize: number;
  ready = new Int32Array(16);
  nReady = 0;
  private scheduled = false;
  private readonly notifyFn = (): void => this.notify();

  constructor(
    readonly ipv4: Ipv4,
    readonly sysctl: TransportSysctl,
    readonly mem: SockMem,
    readonly out: LocalOut,
  ) {
    this.pool = ipv4.ctx.pool;
    this.u8 = this.pool.umem.u8;
    this.dv = this.pool.umem.dv;
    this.truesize = mem.truesize;
  }

  /** Register a socket under its table id (control plane). */
  add(s: UdpSock): void {
    while (this.socks.length <= s.id) this.socks.push(null);
    this.socks[s.id] = s;
    // Room for every socket on the ready list, so markReady does not grow it in a dispatch.
    while (this.ready.length < this.socks.length) this.growReady();
  }

  remove(s: UdpSock): void {
    if (this.socks[s.id] === s) this.socks[s.id] = null;
  }

  /** Put socket s on the ready list (hot path: no allocation). */
  markReady(s: UdpSock): void {
    if (s.ready !== 0) return;
    s.ready = 1;
    // A socket closed while listed leaves a stale id that its id's next owner may join: grow (rare).
    if (this.nReady === this.ready.length) this.growReady();
    this.ready[this.nReady++] = s.id;
  }

  /**
   * udp-rcv's flush(): tell the batch readers among the ready sockets now (the rest wait for the
   * microtask), then schedule that microtask.
   */
  flushReady(): void {
    const n = this.nReady;
    for (let k = 0; k < n; k++) {
      const s = this.socks[this.ready[k]];
      if (s === null || s === undefined || s.inline === 0) continue;
      try {
        s.batchReady();
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    this.scheduleNotify();
  }

  private growReady(): void {
    this.ready = grown(this.ready, this.ready.length * 2);
  }

  /** After a dispatch (or a listener appearing): notify the ready sockets on a microtask. */
  scheduleNotify(): void {
    if (this.scheduled || this.nReady === 0) return;
    this.scheduled = true;
    queueMicrotask(this.notifyFn);
  }

  private notify(): void {
    this.scheduled = false;
    const n = this.nReady;
    this.nReady = 0;
    let err: unknown = null;
    for (let k = 0; k < n; k++) {
      const s = this.socks[this.ready[k]];
      if (s === null || s === undefined || s.ready === 0) continue;
      s.ready = 0;
      try {
        s.dataReady();
      } catch (e) {
        // An application handler threw: the other sockets still hear of their data, then the
        // error surfaces as an uncaught exception, as from a node:dgram 'message' handler.
        err ??= e;
      }
    }
    if (err !== null) throw err;
  }

  /** Count n datagrams read by the application (udp_recvmsg counts InDatagrams, not udp_rcv). */
  delivered(n: number): void {
    this.counters.v[UDP.InDatagrams] += n;
  }
}

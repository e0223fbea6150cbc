import { EventEmitter } from 'node:events';
import { RTN_BROADCAST } from '../ipv4/fib/types.ts';
import { isMulticast } from '../ipv4/igmp.ts';
import { formatIPv4, tryParseIPv4 } from '../wire/addr.ts';
import { sysError } from './errors.ts';
import { FrameViews } from './frame-ring.ts';
import type { SockInfo } from './types.ts';
import { UDP } from './udp-mib.ts';
import { UdpQueue } from './udp-queue.ts';
import { udpSendmsg, UDP_MAX_PAYLOAD } from './udp-send.ts';
import type { UdpSock, UdpState } from './udp-state.ts';
import { UDP_HASHED, UDP_REUSEADDR, UDP_REUSEPORT } from './udp-table.ts';

export interface UdpSocketOptions {
  /** Only 'udp4' (softnet has no IPv6). */
  type?: 'udp4';
  /** SO_REUSEADDR: share a port with other reuseAddr sockets. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT: join the port's group; flows are spread over its members by hash. */
  reusePort?: boolean;
  /** SO_RCVBUF request in bytes (doubled and capped as setRecvBufferSize does). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Closes the socket when aborted. */
  signal?: AbortSignal;
}

/** Where a datagram came from (node:dgram's rinfo). */
export interface RemoteInfo {
  address: string;
  family: 'IPv4';
  port: number;
  size: number;
}

/** One datagram as `for await (const d of socket)` yields it: a copy of the payload and its source. */
export interface Datagram {
  msg: Buffer;
  rinfo: RemoteInfo;
}

export type SendCallback = (err: Error | null, bytes: number) => void;
type Msg = string | Uint8Array | DataView | ReadonlyArray<string | Uint8Array | DataView>;

/**
 * Views of datagrams received by recvBatch, as columns: the payload of datagram k is
 * u8[addr[k] .. addr[k] + len[k]) in the UMEM, from saddr[k]:sport[k] (host order). Valid until
 * the socket's release() or its next recvBatch(). Allocate once, reuse for every call.
 */
export class UdpViews extends FrameViews {
  readonly saddr: Uint32Array;
  readonly sport: Uint16Array;

  constructor(capacity = 64) {
    super(capacity);
    this.saddr = new Uint32Array(capacity);
    this.sport = new Uint16Array(capacity);
  }

  /** Datagram k's payload as a Uint8Array view (bytes(k); allocates the view object, not a copy). */
  payload(k: number): Uint8Array {
    return this.bytes(k);
  }
}

/** The kernel's floor for SO_RCVBUF (SOCK_MIN_RCVBUF). */
const SOCK_MIN_RCVBUF = 2304;
const SOCK_MIN_SNDBUF = 4608;

/**
 * A UDP socket with node:dgram's shape: bind, connect, send, 'message' (a copy in a Buffer),
 * close; plus `for await (const {msg, rinfo} of socket)`, and the zero-copy batch path:
 * recvBatch(views) hands out the datagrams' UMEM frames, held (and charged to the socket) until
 * release(). Differences from node:dgram: bind() and connect() act at once and throw errors
 * (Error with `code`: EADDRINUSE, EADDRNOTAVAIL, EINVAL, EISCONN...), 'listening'/'connect' still
 * follow on the next tick; a send error goes to the callback, else to 'error' listeners, else it
 * is only counted (SndbufErrors), so a flood cannot crash an app that set no listener. Datagrams
 * that nobody reads wait in the queue (bounded by SO_RCVBUF) rather than being discarded.
 */
export class UdpSocket extends EventEmitter implements UdpSock, AsyncIterable<Datagram> {
  readonly id: number;
  readonly q: UdpQueue;
  rcvbuf: number;
  sndbuf: number;
  drops = 0;
  soErr = '';
  ready = 0;
  inline = 0;
  private closed = false;
  private connected = false;
  /** bind() fixed the address / the port (SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK): disconnect keeps them. */
  private addrLocked = false;
  private portLocked = false;
  private bcast = false;
  /** Groups joined (IP_ADD_MEMBERSHIP): device index at 2k, group at 2k + 1. */
  private readonly mships: number[] = [];
  private ttl: number;
  private tos = 0;
  /** Destination port of the send being prepared (prepare() sets it with the route). */
  private dport = 0;
  /** Pending for-await next() calls: resolved with a datagram, or rejected with an ICMP error. */
  private readonly waiters: Array<{ resolve: (r: IteratorResult<Datagram>) => void; reject: (e: Error) => void }> = [];

  constructor(
    private readonly st: UdpState,
    opts: UdpSocketOptions = {},
  ) {
    super();
    if (opts.type !== undefined && opts.type !== 'udp4') throw Object.assign(new TypeError(`udp: type ${String(opts.type)} is not supported (only udp4)`), { code: 'EAFNOSUPPORT' });
    this.id = st.table.alloc();
    const t = st.table;
    t.flags[this.id] = (opts.reuseAddr ? UDP_REUSEADDR : 0) | (opts.reusePort ? UDP_REUSEPORT : 0);
    this.rcvbuf = st.sysctl.rmem_default;
    this.sndbuf = st.sysctl.wmem_default;
    this.ttl = st.ipv4.sysctl.ip_default_ttl;
    this.q = new UdpQueue(this.queueSlots());
    st.add(this);
    if (opts.recvBufferSize !== undefined) this.setRecvBufferSize(opts.recvBufferSize);
    if (opts.sendBufferSize !== undefined) this.setSendBufferSize(opts.sendBufferSize);
    this.on('newListener', (ev: string) => {
      if (ev === 'readable') this.inline = 1;
      // Data that waited for a reader is delivered once one appears.
      if ((ev === 'message' || ev === 'readable') && this.q.queued > 0) {
        st.markReady(this);
        st.scheduleNotify();
      }
    });
    this.on('removeListener', (ev: string) => {
      if (ev === 'readable') this.inline = this.listenerCount('readable') > 0 ? 1 : 0;
    });
    const sig = opts.signal;
    if (sig !== undefined) {
      if (sig.aborted) queueMicrotask(() => this.close());
      else {
        const abort = (): void => void this.close();
        sig.addEventListener('abort', abort, { once: true });
        this.once('close', () => sig.removeEventListener('abort', abort));
      }
    }
  }

  // ---- binding -------------------------------------------------------------------------------

  /** bind([port][, address][, callback]) or bind({port, address}[, callback]). Port 0 or none: an ephemeral port. */
  bind(port?: number | { port?: number; address?: string } | (() => void), address?: string | (() => void), cb?: () => void): this {
    let p: number | undefined;
    let addr: string | undefined;
    if (typeof port === 'function') cb = port;
    else if (typeof port === 'object' && port !== null) {
      p = port.port;
      addr = port.address;
      if (typeof address === 'function') cb = address;
    } else {
      p = port;
      if (typeof address === 'function') cb = address;
      else addr = address;
    }
    this.alive('bind');
    if (this.bound) throw sysError('EINVAL', 'bind', undefined, undefined, 'already bound');
    const port16 = checkPort(p ?? 0, 'bind');
    const la = addr === undefined ? 0 : parseAddr(addr, 'bind');
    if (la !== 0 && !this.bindable(la)) throw sysError('EADDRNOTAVAIL', 'bind', addr, port16);
    this.hashAt(port16, la, 'bind');
    this.addrLocked = la !== 0;
    this.portLocked = port16 !== 0;
    if (cb) this.once('listening', cb);
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  get bound(): boolean {
    return (this.st.table.flags[this.id] & UDP_HASHED) !== 0;
  }

  /** connect(port[, address][, callback]): the default peer; only its datagrams are received. */
  connect(port: number, address?: string | (() => void), cb?: () => void): this {
    if (typeof address === 'function') {
      cb = address;
      address = undefined;
    }
    this.alive('connect');
    if (this.connected) throw sysError('EISCONN', 'connect');
    const rport = checkPort(port, 'connect');
    if (rport === 0) throw sysError('EINVAL', 'connect', undefined, undefined, 'port 0');
    const ra = parseAddr(address ?? '127.0.0.1', 'connect');
    const t = this.st.table;
    const err = this.st.out.routeOutput(ra, t.laddr[this.id]);
    if (err !== null) throw sysError(err, 'connect', formatIPv4(ra), rport);
    const r = this.st.out.route;
    if (r.broadcast && !this.bcast) throw sysError('EACCES', 'connect', formatIPv4(ra), rport, 'broadcast without setBroadcast(true)');
    if (!this.bound) this.hashAt(0, 0, 'connect');
    // ip4_datagram_connect: an unbound address becomes the route's source.
    if (t.laddr[this.id] === 0) t.laddr[this.id] = r.saddr;
    t.raddr[this.id] = ra;
    t.rport[this.id] = rport;
    this.connected = true;
    if (cb) this.once('connect', cb);
    process.nextTick(() => this.emit('connect'));
    return this;
  }

  /** udp_disconnect: forget the peer; an address/port that bind() did not fix is released too. */
  disconnect(): void {
    this.alive('disconnect');
    if (!this.connected) throw Object.assign(new Error('Not connected'), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    const t = this.st.table;
    t.raddr[this.id] = 0;
    t.rport[this.id] = 0;
    this.connected = false;
    if (!this.addrLocked) t.laddr[this.id] = 0;
    if (!this.portLocked) {
      t.unhash(this.id);
      t.lport[this.id] = 0;
    }
  }

  address(): { address: string; family: 'IPv4'; port: number } {
    this.alive('getsockname');
    if (!this.bound) throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    const t = this.st.table;
    return { address: formatIPv4(t.laddr[this.id]), family: 'IPv4', port: t.lport[this.id] };
  }

  remoteAddress(): { address: string; family: 'IPv4'; port: number } {
    this.alive('getpeername');
    if (!this.connected) throw Object.assign(new Error('Not connected'), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    const t = this.st.table;
    return { address: formatIPv4(t.raddr[this.id]), family: 'IPv4', port: t.rport[this.id] };
  }

  // ---- options -------------------------------------------------------------------------------

  /** SO_RCVBUF: min(size, rmem_max) doubled (as the kernel does), at least 2304; read back doubled. */
  setRecvBufferSize(size: number): void {
    this.alive('setsockopt');
    if (!Number.isInteger(size) || size < 0) throw sysError('EINVAL', 'setsockopt', undefined, undefined, `SO_RCVBUF ${size}`);
    const v = Math.min(size, this.st.sysctl.rmem_max);
    this.rcvbuf = Math.max(v * 2, SOCK_MIN_RCVBUF);
    this.q.grow(this.queueSlots());
  }

  getRecvBufferSize(): number {
    return this.rcvbuf;
  }

  /** SO_SNDBUF (kept for getSendBufferSize; UDP's send side is bounded by the ip-local-out ring). */
  setSendBufferSize(size: number): void {
    this.alive('setsockopt');
    if (!Number.isInteger(size) || size < 0) throw sysError('EINVAL', 'setsockopt', undefined, undefined, `SO_SNDBUF ${size}`);
    this.sndbuf = Math.max(Math.min(size, this.st.sysctl.wmem_max) * 2, SOCK_MIN_SNDBUF);
  }

  getSendBufferSize(): number {
    return this.sndbuf;
  }

  /** SO_BROADCAST: needed to send to (or connect to) a broadcast address. */
  setBroadcast(flag: boolean): void {
    this.bcast = flag;
  }

  /**
   * IP_ADD_MEMBERSHIP: receive datagrams for multicast group `multicastAddress` on the device that
   * has address `multicastInterface` (default: the device the route to the group leaves by). Any
   * socket bound to the port (wildcard or the group address) gets them, as with Linux's default
   * IP_MULTICAST_ALL. Errors: EINVAL (not a multicast address), ENODEV (no such interface or
   * route), EADDRINUSE (joined already). Receive only: softnet does not send multicast.
   */
  addMembership(multicastAddress: string, multicastInterface?: string): void {
    this.alive('addMembership');
    const [group, dev] = this.membership(multicastAddress, multicastInterface, 'addMembership');
    if (this.mshipAt(dev, group) >= 0) throw sysError('EADDRINUSE', 'addMembership', undefined, undefined, `${multicastAddress} joined already`);
    this.mships.push(dev, group);
    this.st.ipv4.ctx.mc.join(dev, group);
  }

  /** IP_DROP_MEMBERSHIP: leave a group joined by addMembership (EADDRNOTAVAIL when not joined). */
  dropMembership(multicastAddress: string, multicastInterface?: string): void {
    this.alive('dropMembership');
    const [group, dev] = this.membership(multicastAddress, multicastInterface, 'dropMembership');
    const k = this.mshipAt(dev, group);
    if (k < 0) throw sysError('EADDRNOTAVAIL', 'dropMembership', undefined, undefined, `${multicastAddress} not joined`);
    this.mships.splice(k, 2);
    this.st.ipv4.ctx.mc.leave(dev, group);
  }

  /** IP_TTL of sent datagrams (1..255). */
  setTTL(ttl: number): number {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw sysError('EINVAL', 'setsockopt', undefined, undefined, `IP_TTL ${ttl}`);
    this.ttl = ttl;
    return ttl;
  }

  /** IP_TOS of sent datagrams. */
  setTOS(tos: number): void {
    if (!Number.isInteger(tos) || tos < 0 || tos > 255) throw sysError('EINVAL', 'setsockopt', undefined, undefined, `IP_TOS ${tos}`);
    this.tos = tos;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * send(msg[, offset, length][, port, address][, callback]) as node:dgram: to (port, address),
   * or to the connected peer when both are left out. msg: Buffer/Uint8Array/DataView/string, or
   * a list of them sent as one datagram. The datagram is built into a frame at once and leaves
   * when the current synchronous code returns; callback(err, bytes) follows on the next tick.
   */
  send(msg: Msg, port?: number, address?: string, cb?: SendCallback): void;
  send(msg: Msg, cb?: SendCallback): void;
  send(msg: Msg, offset: number, length: number, port?: number, address?: string, cb?: SendCallback): void;
  send(msg: Msg, ...rest: unknown[]): void {
    let cb: SendCallback | undefined;
    if (typeof rest[rest.length - 1] === 'function') cb = rest.pop() as SendCallback;
    let buf = toBytes(msg);
    let port: unknown;
    let address: unknown;
    if (rest.length >= 3 || (this.connected && rest.length === 2 && typeof rest[0] === 'number' && typeof rest[1] === 'number')) {
      const [offset, length] = rest as [number, number];
      buf = slice(buf, offset, length);
      [port, address] = rest.slice(2);
    } else [port, address] = rest;
    const err = this.sendOne(buf, port, address);
    if (cb) {
      const c = cb;
      process.nextTick(() => c(err, err === null ? buf.length : 0));
    } else if (err !== null && this.listenerCount('error') > 0) process.nextTick(() => this.emit('error', err));
  }

  /**
   * sendmmsg: send every message of msgs (each one datagram) to (port, address) or the connected
   * peer, in one route lookup. Returns how many were queued: fewer when the ring or the pool
   * filled up (the rest counted SndbufErrors). Argument and route errors throw; nothing is sent then.
   */
  sendBatch(msgs: ReadonlyArray<Uint8Array>, port?: number, address?: string): number {
    this.alive('sendmmsg');
    for (let k = 0; k < msgs.length; k++) {
      if (msgs[k].length > UDP_MAX_PAYLOAD) throw sysError('EMSGSIZE', 'sendmmsg', undefined, undefined, `message ${k}: ${msgs[k].length} bytes`);
    }
    const err = this.prepare(port, address, 'sendmmsg');
    if (err !== null) throw err;
    const t = this.st.table;
    const r = this.st.out.route;
    const sport = t.lport[this.id];
    const dport = this.dport;
    let k = 0;
    for (; k < msgs.length; k++) {
      const m = msgs[k];
      if (udpSendmsg(this.st, r, sport, dport, this.ttl, this.tos, m, 0, m.length) !== null) break;
    }
    // The first refusal was counted by udpSendmsg; the rest of the batch is refused with it.
    if (k < msgs.length) this.st.counters.v[UDP.SndbufErrors] += msgs.length - k - 1;
    return k;
  }

  /** Resolve the destination, route it, autobind: null, or the error (SndbufErrors is not counted here). */
  private prepare(port: unknown, address: unknown, syscall: string): Error | null {
    const t = this.st.table;
    let da: number;
    let dp: number;
    if (this.connected) {
      if ((port !== undefined && port !== null) || (address !== undefined && address !== null)) throw sysError('EISCONN', syscall);
      da = t.raddr[this.id];
      dp = t.rport[this.id];
    } else {
      if (port === undefined || port === null) throw sysError('EDESTADDRREQ', syscall, undefined, undefined, 'no port, socket not connected');
      dp = checkPort(port, syscall);
      if (dp === 0) throw sysError('EINVAL', syscall, undefined, undefined, 'port 0');
      da = parseAddr(address === undefined || address === null ? '127.0.0.1' : String(address), syscall);
    }
    const e = this.st.out.routeOutput(da, t.laddr[this.id]);
    if (e !== null) return sysError(e, syscall, formatIPv4(da), dp);
    if (this.st.out.route.broadcast && !this.bcast) return sysError('EACCES', syscall, formatIPv4(da), dp, 'broadcast without setBroadcast(true)');
    if (!this.bound) this.hashAt(0, 0, syscall);
    this.dport = dp;
    return null;
  }

  private sendOne(buf: Uint8Array, port: unknown, address: unknown): Error | null {
    this.alive('send');
    if (buf.length > UDP_MAX_PAYLOAD) return sysError('EMSGSIZE', 'send', undefined, undefined, `${buf.length} bytes`);
    const err = this.prepare(port, address, 'send');
    if (err !== null) return err;
    const t = this.st.table;
    const code = udpSendmsg(this.st, this.st.out.route, t.lport[this.id], this.dport, this.ttl, this.tos, buf, 0, buf.length);
    return code === null ? null : sysError(code, 'send', formatIPv4(this.st.out.route.daddr), this.dport);
  }

  // ---- receiving -----------------------------------------------------------------------------

  /**
   * Zero-copy receive: up to views.capacity datagrams, as UMEM offsets + lengths + sources in
   * views. Releases the frames of the previous call first; these stay valid (and held) until
   * release() or the next recvBatch(). Returns the count (0: nothing queued). No allocation.
   */
  recvBatch(views: UdpViews): number {
    this.alive('recvmmsg');
    this.release();
    const q = this.q;
    const max = views.capacity;
    let n = 0;
    while (n < max && q.read < q.tail) {
      const x = q.read & q.mask;
      views.addr[n] = q.data[x];
      views.len[n] = q.len[x];
      views.saddr[n] = q.saddr[x];
      views.sport[n] = q.sport[x];
      q.read++;
      n++;
    }
    views.n = n;
    views.u8 = this.st.u8;
    this.st.delivered(n);
    return n;
  }

  /** Return the frames handed out by recvBatch to the pool (their views become invalid). */
  release(): void {
    const q = this.q;
    const k = q.read - q.head;
    if (k === 0) return;
    const pool = this.st.pool;
    while (q.head < q.read) {
      pool.free(q.frame[q.head & q.mask]);
      q.head++;
    }
    q.bytes -= k * this.st.truesize;
    this.st.mem.uncharge(k);
    q.rebase();
  }

  /** The next datagram as a copy (or null); its frame goes back at once unless recvBatch views are out. */
  recv(): Datagram | null {
    const q = this.q;
    if (q.read === q.tail) return null;
    const x = q.read & q.mask;
    const len = q.len[x];
    const d = q.data[x];
    const msg = Buffer.allocUnsafe(len);
    msg.set(this.st.u8.subarray(d, d + len));
    const rinfo: RemoteInfo = { address: formatIPv4(q.saddr[x]), family: 'IPv4', port: q.sport[x], size: len };
    q.read++;
    if (q.head === q.read - 1) this.release();
    this.st.delivered(1);
    return { msg, rinfo };
  }

  /** Datagrams waiting to be read. */
  get queued(): number {
    return this.q.queued;
  }

  /**
   * sk_data_ready for a batch reader: 'readable', at the end of the dispatch that queued data
   * (inside the poll loop: a handler should read with recvBatch, release, and return; its sends
   * leave after the dispatch).
   */
  batchReady(): void {
    if (!this.closed && this.q.queued > 0) this.emit('readable');
  }

  /**
   * sk_data_ready (and sk_error_report) for the others, on a microtask after the dispatch: a
   * pending error first, then iterators, then 'message'.
   */
  dataReady(): void {
    if (!this.closed && this.soErr !== '') {
      const e = this.takeError();
      // The for-await loop waiting throws it; else 'error', as node:dgram's failed recvmsg (no listener: uncaught, as there).
      const w = this.waiters.shift();
      if (w !== undefined) w.reject(e);
      else this.emit('error', e);
    }
    while (!this.closed && this.waiters.length > 0 && this.q.queued > 0) this.waiters.shift()!.resolve({ value: this.recv()!, done: false });
    while (!this.closed && this.q.queued > 0 && this.listenerCount('message') > 0) {
      const d = this.recv()!;
      this.emit('message', d.msg, d.rinfo);
    }
    // A 'readable' listener added since the dispatch (or data it left) hears of it here.
    if (!this.closed && this.q.queued > 0) this.emit('readable');
  }

  /** for await (const { msg, rinfo } of socket): ends when the socket closes; leaving the loop closes it. */
  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return {
      next: () => {
        if (!this.closed && this.soErr !== '') return Promise.reject(this.takeError());
        const d = this.closed ? null : this.recv();
        if (d !== null) return Promise.resolve({ value: d, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Close: unhash, return every held frame, end iterators, 'close' on the next tick. */
  close(cb?: () => void): this {
    if (this.closed) {
      if (cb) process.nextTick(cb);
      return this;
    }
    this.closed = true;
    const st = this.st;
    const q = this.q;
    q.read = q.tail;
    this.release();
    st.table.release(this.id);
    st.remove(this);
    for (let k = 0; k < this.mships.length; k += 2) st.ipv4.ctx.mc.leave(this.mships[k], this.mships[k + 1]);
    this.mships.length = 0;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    if (cb) this.once('close', cb);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The ss row (bound sockets only, as inet_diag lists hashed sockets). */
  info(): SockInfo {
    const t = this.st.table;
    const id = this.id;
    return {
      netid: 'udp',
      state: this.connected ? 'ESTAB' : 'UNCONN',
      recvQ: this.q.bytes,
      sendQ: 0,
      localAddress: formatIPv4(t.laddr[id]),
      localPort: t.lport[id],
      peerAddress: formatIPv4(t.raddr[id]),
      peerPort: t.rport[id],
      drops: this.drops,
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  /** sock_error: the pending error as node's recvmsg failure, cleared. */
  private takeError(): Error {
    const e = sysError(this.soErr, 'recvmsg');
    this.soErr = '';
    return e;
  }

  private alive(syscall: string): void {
    if (this.closed) throw sysError('EBADF', syscall, undefined, undefined, 'socket closed');
  }

  /** ip_mc_find_dev: [group, device index] for a membership request, or throw EINVAL / ENODEV. */
  private membership(multicastAddress: string, multicastInterface: string | undefined, syscall: string): [number, number] {
    const group = parseAddr(multicastAddress, syscall);
    if (!isMulticast(group)) throw sysError('EINVAL', syscall, undefined, undefined, `${multicastAddress} is not a multicast address`);
    const ipv4 = this.st.ipv4;
    if (multicastInterface !== undefined) {
      const a = parseAddr(multicastInterface, syscall);
      const devs = ipv4.ctx.devs.list;
      for (let d = 0; d < devs.length; d++) if (devs[d].addrs.some((x) => x.addr >>> 0 === a)) return [group, d];
      throw sysError('ENODEV', syscall, undefined, undefined, `no interface has address ${multicastInterface}`);
    }
    const nh = ipv4.fib.lookup(group);
    const oif = nh < 0 ? -1 : ipv4.fib.nhOif[nh];
    if (oif < 0) throw sysError('ENODEV', syscall, undefined, undefined, `no route to ${multicastAddress}: name the interface`);
    return [group, oif];
  }

  private mshipAt(dev: number, group: number): number {
    for (let k = 0; k < this.mships.length; k += 2) if (this.mships[k] === dev && this.mships[k + 1] === group) return k;
    return -1;
  }

  /** Entries the queue needs: what SO_RCVBUF admits (one may cross it) plus one. */
  private queueSlots(): number {
    return Math.min(Math.floor(this.rcvbuf / this.st.truesize) + 2, this.st.pool.total + 1);
  }

  /** A local, broadcast or multicast address, or 255.255.255.255 (inet_bind's RTN_LOCAL/BROADCAST/MULTICAST). */
  private bindable(a: number): boolean {
    const ipv4 = this.st.ipv4;
    if (ipv4.ctx.isLocal(a) || a === 0xffffffff || isMulticast(a)) return true;
    const fib = ipv4.fib;
    const nh = fib.lookup(a);
    return nh >= 0 && fib.nhType[nh] === RTN_BROADCAST;
  }

  /** Take port (0: ephemeral) on address la and hash the socket, or throw EADDRINUSE / EAGAIN. */
  private hashAt(port: number, la: number, syscall: string): void {
    const st = this.st;
    const t = st.table;
    const id = this.id;
    const f = t.flags[id];
    if (port === 0) {
      const [lo, hi] = st.sysctl.ip_local_port_range;
      port = t.ephemeral(id, lo, hi, la, f, t.dev[id]);
      if (port < 0) throw sysError('EAGAIN', syscall, undefined, undefined, 'no free ephemeral port in ip_local_port_range');
    } else if (t.inUse(id, port, la, f, t.dev[id])) throw sysError('EADDRINUSE', syscall, formatIPv4(la), port);
    t.lport[id] = port;
    t.laddr[id] = la;
    t.hash(id);
  }
}

function checkPort(p: unknown, syscall: string): number {
  const n = typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw sysError('EINVAL', syscall, undefined, undefined, `port ${String(p)} is not 0..65535`);
  return n;
}

function parseAddr(s: string, syscall: string): number {
  const a = tryParseIPv4(s);
  if (a === null) throw sysError('EINVAL', syscall, undefined, undefined, `${JSON.stringify(s)} is not an IPv4 address`);
  return a >>> 0;
}

function toBytes(m: Msg): Uint8Array {
  if (typeof m === 'string') return Buffer.from(m);
  if (m instanceof Uint8Array) return m;
  if (m instanceof DataView) return new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
  if (Array.isArray(m)) return Buffer.concat(m.map((x) => toBytes(x as Msg)));
  throw Object.assign(new TypeError('send: msg must be a string, Buffer, Uint8Array, DataView or a list of them'), { code: 'ERR_INVALID_ARG_TYPE' });
}

function slice(b: Uint8Array, offset: number, length: number): Uint8Array {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > b.length) {
    throw Object.assign(new RangeError(`send: offset ${offset} + length ${length} is outside the ${b.length}-byte message`), { code: 'ERR_OUT_OF_RANGE' });
  }
  return b.subarray(offset, offset + length);
}

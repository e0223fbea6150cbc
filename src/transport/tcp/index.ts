import type { Graph } from '../../core/graph.ts';
import type { TimerWheel } from '../../core/timer-wheel.ts';
import type { Ipv4 } from '../../ipv4/index.ts';
import { parseIPv4 } from '../../wire/addr.ts';
import { IPPROTO_TCP } from '../../wire/ipv4.ts';
import type { LocalOut } from '../local-out.ts';
import type { SockMem } from '../sock-mem.ts';
import type { TransportSysctl } from '../sysctl.ts';
import type { SockInfo, TransportProto } from '../types.ts';
import { TcpCtx, type TcpCtxOptions } from './ctx.ts';
import { sysError } from '../errors.ts';
import { tcpInfo, tcpSockets, type TcpInfo } from './info.ts';
import { sendActiveReset } from './output.ts';
import { TcpServer, type TcpServerOptions } from './server.ts';
import { TcpSocket, type TcpSocketOptions } from './socket.ts';
import { tcpSysctl, tcpSysctlKey } from './sysctl.ts';
import { tcpDone } from './conn.ts';
import { tcpErrHandler } from './err.ts';
import { TcpRcv } from './tcp-rcv.ts';
import type { Tcb } from './tcb.ts';
import { registerTcpTimers } from './timers.ts';
import { tcpCloseAll, tcpConnect } from './user.ts';

export { TcpServer, type ListenOptions, type TcpServerOptions } from './server.ts';
export { TcpSocket, type TcpSocketOptions } from './socket.ts';
export { TcpViews } from './rcv-frames.ts';
export type { TcpInfo } from './info.ts';
export { DEFAULT_TCP_SYSCTL, type TcpSysctl } from './sysctl.ts';
export { TCP, TCPEXT, TCP_MIB_NAMES, TCPEXT_NAMES } from './mib.ts';

export type TcpOptions = TcpCtxOptions;

export interface TcpConnectOptions extends TcpSocketOptions {
  port: number;
  /** An IPv4 address (there is no resolver on a softnet stack). */
  host?: string;
  localAddress?: string;
  localPort?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  signal?: AbortSignal;
  /** Idle timeout in ms (socket.setTimeout). */
  timeout?: number;
}

/**
 * TCP on one stack (tcp_prot + the inet stream ops): `stack.tcp`. createServer/connect with
 * node:net's shapes; the `tcp-rcv` stage; ss rows, tcp_info, the Tcp/TcpExt MIB; sysctls.
 */
export class Tcp implements TransportProto {
  readonly name = 'tcp';
  readonly ctx: TcpCtx;
  readonly stage: TcpRcv;

  constructor(pool: Graph['pool'], ipv4: Ipv4, tsys: TransportSysctl, mem: SockMem, out: LocalOut, wheel: TimerWheel, opts: TcpOptions = {}) {
    this.ctx = new TcpCtx(pool, ipv4, out, mem, tsys, wheel, opts);
    registerTcpTimers(this.ctx);
    this.stage = new TcpRcv(this.ctx);
    // A connection established while its listener closed: reset (as inet_csk_listen_stop does).
    this.ctx.unaccepted = (t: Tcb) => {
      if (t.id < 0) return;
      sendActiveReset(this.ctx, t);
      tcpDone(this.ctx, t);
    };
  }

  /** net.createServer([options][, connectionListener]). */
  createServer(opts?: TcpServerOptions | ((s: TcpSocket) => void), listener?: (s: TcpSocket) => void): TcpServer {
    if (typeof opts === 'function') return new TcpServer(this.ctx, {}, opts);
    return new TcpServer(this.ctx, opts ?? {}, listener);
  }

  /** net.connect(options[, connectListener]) or connect(port, host[, connectListener]). */
  connect(opts: TcpConnectOptions | number, host?: string | (() => void), cb?: () => void): TcpSocket {
    let o: TcpConnectOptions;
    if (typeof opts === 'number') {
      o = { port: opts };
      if (typeof host === 'string') o.host = host;
      else if (typeof host === 'function') cb = host;
    } else {
      o = opts;
      if (typeof host === 'function') cb = host;
    }
    const s = new TcpSocket(this.ctx, o);
    if (cb !== undefined) s.once('connect', cb);
    if (o.noDelay) s.setNoDelay(true);
    if (o.keepAlive) s.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    if (o.timeout !== undefined) s.setTimeout(o.timeout);
    const hostStr = o.host ?? '127.0.0.1';
    let raddr: number;
    let laddr = 0;
    try {
      raddr = parseIPv4(hostStr);
      if (o.localAddress !== undefined) laddr = parseIPv4(o.localAddress);
    } catch {
      s.destroy(sysError('ENOTFOUND', 'getaddrinfo', undefined, undefined, hostStr));
      return s;
    }
    s.remoteAddress = hostStr;
    s.remotePort = o.port;
    s.connecting = true;
    const r = tcpConnect(this.ctx, raddr, o.port, { laddr, lport: o.localPort ?? 0, noDelay: o.noDelay, keepalive: o.keepAlive, keepIdleMs: o.keepAliveInitialDelay });
    if (typeof r === 'string') {
      const e = sysError(r, 'connect', hostStr, o.port);
      process.nextTick(() => s.destroy(e));
      return s;
    }
    s.attach(r);
    if (o.signal !== undefined) {
      const abort = () => s.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: o.signal!.reason }));
      if (o.signal.aborted) process.nextTick(abort);
      else {
        o.signal.addEventListener('abort', abort, { once: true });
        s.once('close', () => o.signal!.removeEventListener('abort', abort));
      }
    }
    return s;
  }

  createConnection(opts: TcpConnectOptions | number, host?: string | (() => void), cb?: () => void): TcpSocket {
    return this.connect(opts, host, cb);
  }

  /** tcp_info of a socket's connection (null when it has none). */
  info(s: TcpSocket): TcpInfo | null {
    return s.tcb !== null ? tcpInfo(s.tcb) : null;
  }

  sockets(): SockInfo[] {
    return tcpSockets(this.ctx);
  }

  mib(): Record<string, Record<string, number>> {
    return this.ctx.mib.toJSON();
  }

  /** Frames held in out-of-order and zero-copy receive queues. */
  held(): number {
    let n = 0;
    for (const t of this.ctx.table.all()) {
      if (t.ofo !== null) n += t.ofo.n;
      if (t.frames !== null) n += t.frames.held;
    }
    return n;
  }

  hasSysctl(name: string): boolean {
    return tcpSysctlKey(name) !== null;
  }

  sysctl(name: string, value?: number | string): number | string {
    const k = tcpSysctlKey(name);
    if (k === null) throw new Error(`sysctl: unknown TCP key ${name}`);
    return tcpSysctl(this.ctx.sysctl, k, value);
  }

  close(): void {
    tcpCloseAll(this.ctx);
  }
}

/** Add `tcp-rcv` to the graph (ip-local-deliver wires IP protocol 6 to it at seal) and TCP's ICMP error handler to icmp-rcv. */
export function registerTcp(g: Graph, ipv4: Ipv4, tsys: TransportSysctl, mem: SockMem, out: LocalOut, wheel: TimerWheel, opts: TcpOptions = {}): Tcp {
  const tcp = new Tcp(g.pool, ipv4, tsys, mem, out, wheel, opts);
  g.add(tcp.stage);
  ipv4.icmpRcv.setErrHandler(IPPROTO_TCP, tcpErrHandler(tcp.ctx));
  return tcp;
}

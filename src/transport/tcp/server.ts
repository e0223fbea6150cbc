import { EventEmitter } from 'node:events';
import { formatIPv4, parseIPv4 } from '../../wire/addr.ts';
import type { TcpCtx } from './ctx.ts';
import { sysError } from '../errors.ts';
import { TcpSocket } from './socket.ts';
import type { Listener, ListenUser } from './table.ts';
import { TCP_CLOSE, WAKE_CLOSED, WAKE_ERROR, type Tcb } from './tcb.ts';
import { tcpListen, tcpUnlisten } from './user.ts';

export interface TcpServerOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Accepted sockets start paused (node:net's pauseOnConnect). */
  pauseOnConnect?: boolean;
  /** Accepted sockets receive zero-copy: 'segments' and recvBatch(views) instead of 'data'. */
  recvBatch?: boolean;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
  signal?: AbortSignal;
}

/**
 * A listening socket with node:net.Server's shape: listen(port, host, backlog, cb) or
 * listen({port, host, backlog, signal}), 'listening', 'connection' (a TcpSocket), 'error'
 * (EADDRINUSE...), close() ('close' once every connection is gone), address(), maxConnections.
 */
export class TcpServer extends EventEmitter implements ListenUser {
  maxConnections = 0;
  private l: Listener | null = null;
  private readonly conns = new Set<TcpSocket>();
  private closing = false;

  constructor(
    private readonly ctx: TcpCtx,
    private readonly opts: TcpServerOptions = {},
    connectionListener?: (s: TcpSocket) => void,
  ) {
    super();
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.l !== null;
  }

  listen(port?: number | ListenOptions, host?: string | number | (() => void), backlog?: number | (() => void), cb?: () => void): this {
    let o: ListenOptions;
    if (typeof port === 'object' && port !== null) {
      o = port;
      if (typeof host === 'function') cb = host;
    } else {
      o = { port: port ?? 0 };
      if (typeof host === 'function') cb = host;
      else if (typeof host === 'number') {
        o.backlog = host;
        if (typeof backlog === 'function') cb = backlog;
      } else {
        o.host = host;
        if (typeof backlog === 'function') cb = backlog;
        else {
          o.backlog = backlog;
        }
      }
    }
    if (cb !== undefined) this.once('listening', cb);
    if (this.l !== null) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    const portN = o.port ?? 0;
    if (!Number.isInteger(portN) || portN < 0 || portN > 65535) throw new RangeError(`options.port should be >= 0 and < 65536. Received ${String(portN)}.`);
    const host4 = o.host === undefined || o.host === '0.0.0.0' || o.host === '::' ? 0 : parseIPv4(o.host);
    const r = tcpListen(this.ctx, host4, portN, o.backlog ?? 511);
    if (typeof r === 'string') {
      const e = sysError(r, 'listen', formatIPv4(host4), portN);
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    r.user = this;
    r.zc = this.opts.recvBatch === true;
    this.l = r;
    this.closing = false;
    if (o.signal !== undefined) {
      if (o.signal.aborted) process.nextTick(() => this.close());
      else o.signal.addEventListener('abort', () => this.close(), { once: true });
    }
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    const l = this.l;
    return l === null ? null : { address: formatIPv4(l.addr), family: 'IPv4', port: l.port };
  }

  /** Stop accepting; 'close' follows when the last connection has closed. */
  close(cb?: (err?: Error) => void): this {
    if (this.l === null) {
      const e = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
      if (cb !== undefined) process.nextTick(() => cb(e));
      return this;
    }
    if (cb !== undefined) this.once('close', cb);
    tcpUnlisten(this.ctx, this.l);
    this.l = null;
    this.closing = true;
    this.maybeClosed();
    return this;
  }

  getConnections(cb: (err: Error | null, n: number) => void): this {
    process.nextTick(() => cb(null, this.conns.size));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  onAccept(t: Tcb): void {
    const s = new TcpSocket(this.ctx, { allowHalfOpen: this.opts.allowHalfOpen });
    s.attach(t);
    if (this.opts.noDelay) s.setNoDelay(true);
    if (this.opts.keepAlive) s.setKeepAlive(true, this.opts.keepAliveInitialDelay ?? 0);
    if (this.maxConnections > 0 && this.conns.size >= this.maxConnections) {
      s.destroy();
      return;
    }
    this.conns.add(s);
    s.once('close', () => {
      this.conns.delete(s);
      this.maybeClosed();
    });
    if (this.opts.pauseOnConnect) s.pause();
    this.emit('connection', s);
    // Events that came before the accept: data waits (pulled on read), a reset or close is told now.
    if (t.state === TCP_CLOSE) s.onWake(t, t.error !== '' ? WAKE_CLOSED | WAKE_ERROR : WAKE_CLOSED);
  }

  private maybeClosed(): void {
    if (this.closing && this.conns.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }
}

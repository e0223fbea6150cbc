import { Duplex } from 'node:stream';
import { formatIPv4 } from '../../wire/addr.ts';
import type { TcpCtx } from './ctx.ts';
import { sysError } from '../errors.ts';
import type { TcpViews } from './rcv-frames.ts';
import { tcpAfterRead, tcpClose, tcpSend, tcpSendv, tcpSetKeepalive, tcpShutdown } from './user.ts';
import { TCP_CLOSE, TCP_TIME_WAIT, WAKE_CLOSED, WAKE_CONNECT, WAKE_DATA, WAKE_EOF, WAKE_ERROR, WAKE_WRITABLE, type Tcb, type TcbUser } from './tcb.ts';

export interface TcpSocketOptions {
  /** node:net's: false (default) ends the writable side when the peer's FIN has been read. */
  allowHalfOpen?: boolean;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

type WriteCb = (err?: Error | null) => void;

/**
 * A TCP connection as a stream.Duplex with node:net.Socket's shape (remoteAddress, setNoDelay,
 * setKeepAlive, setTimeout, 'connect', errors with `code`), so pipeline() and node:http work on
 * it. Reading: received bytes are pushed as the connection delivers them (one Buffer per
 * delivery); when push() refuses, they wait in the connection and close its window —
 * backpressure reaches the peer. Writing: a write's callback is held while the connection's
 * send buffer (SO_SNDBUF, grown with cwnd) is full, so a writer that honours write()'s return
 * value or uses pipeline() cannot outrun the network.
 */
export class TcpSocket extends Duplex implements TcbUser {
  tcb: Tcb | null = null;
  connecting = false;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  readonly remoteFamily = 'IPv4';
  bytesRead = 0;
  private written = 0;
  private eofPushed = false;
  private writeCb: WriteCb | null = null;
  private finalCb: WriteCb | null = null;
  private resetOnClose = false;
  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** Settings made before the connection exists (setNoDelay/setKeepAlive before connect). */
  private noDelay = false;
  private keepalive = false;
  private keepIdleMs = 0;

  constructor(
    private readonly ctx: TcpCtx,
    opts: TcpSocketOptions = {},
  ) {
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, readableHighWaterMark: opts.readableHighWaterMark, writableHighWaterMark: opts.writableHighWaterMark });
  }

  /** Bind to a connection (accepted, or being connected). */
  attach(t: Tcb): void {
    this.tcb = t;
    t.user = this;
    t.noDelay = t.noDelay || this.noDelay;
    if (this.keepalive) tcpSetKeepalive(this.ctx, t, true, this.keepIdleMs);
    this.localAddress = formatIPv4(t.laddr);
    this.localPort = t.lport;
    this.remoteAddress = formatIPv4(t.raddr);
    this.remotePort = t.rport;
  }

  get bytesWritten(): number {
    return this.written;
  }

  get pending(): boolean {
    return this.connecting;
  }

  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    return this.localAddress === undefined ? {} : { address: this.localAddress, family: 'IPv4', port: this.localPort! };
  }

  setNoDelay(noDelay = true): this {
    this.noDelay = noDelay;
    if (this.tcb !== null) {
      this.tcb.noDelay = noDelay;
      if (noDelay) tcpSend(this.ctx, this.tcb, EMPTY); // push what Nagle held back
    }
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepalive = enable;
    this.keepIdleMs = initialDelay > 0 ? initialDelay : 0;
    if (this.tcb !== null) tcpSetKeepalive(this.ctx, this.tcb, enable, this.keepIdleMs);
    return this;
  }

  /** node:net's idle timeout: 'timeout' after ms without activity (the application's timer, as in node). */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = ms;
    if (cb !== undefined) {
      if (ms === 0) this.removeListener('timeout', cb);
      else this.once('timeout', cb);
    }
    this.touch();
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Close with a RST instead of a FIN (node's socket.resetAndDestroy()). */
  resetAndDestroy(): this {
    this.resetOnClose = true;
    return this.destroy();
  }

  // ---- TcbUser --------------------------------------------------------------------------------

  appQueued(): number {
    return this.readableLength;
  }

  onWake(t: Tcb, ev: number): void {
    if (t !== this.tcb) return;
    if ((ev & WAKE_CONNECT) !== 0 && this.connecting) {
      this.connecting = false;
      this.touch();
      this.emit('connect');
      this.emit('ready');
      if (this.finalCb !== null) {
        const cb = this.finalCb;
        this.finalCb = null;
        this._final(cb);
      }
    }
    if ((ev & (WAKE_DATA | WAKE_EOF)) !== 0) {
      if (t.frames !== null && t.frames.queued > 0) this.emit('segments');
      this.flow();
    }
    if ((ev & WAKE_WRITABLE) !== 0 && this.writeCb !== null && t.sq.bytes < t.sndbuf) {
      const cb = this.writeCb;
      this.writeCb = null;
      this.touch();
      cb();
    }
    if ((ev & WAKE_ERROR) !== 0) {
      const code = t.error;
      const syscall = this.connecting ? 'connect' : code === 'EPIPE' ? 'write' : 'read';
      this.destroy(sysError(code, syscall, this.connecting ? this.remoteAddress : undefined, this.connecting ? this.remotePort : undefined));
    } else if ((ev & WAKE_CLOSED) !== 0) {
      // Gone without the peer's FIN (the stack shut down): nothing more will come.
      if (t.state === TCP_CLOSE && !t.finRcvd) this.destroy();
      else if (this.writeCb !== null && (t.state === TCP_CLOSE || t.state === TCP_TIME_WAIT)) {
        const cb = this.writeCb;
        this.writeCb = null;
        cb(sysError('EPIPE', 'write'));
      }
    }
  }

  // ---- Duplex ---------------------------------------------------------------------------------

  override _read(): void {
    this.flow();
    // The reader is taking what the stream buffered (read() calls _read before it takes the
    // bytes): once it has, the window may have opened (tcp_cleanup_rbuf).
    if (!this.afterReadQueued) {
      this.afterReadQueued = true;
      queueMicrotask(this.afterReadFn);
    }
  }

  private afterReadQueued = false;
  private readonly afterReadFn = (): void => {
    this.afterReadQueued = false;
    if (this.tcb !== null && !this.destroyed) tcpAfterRead(this.ctx, this.tcb);
  };

  /**
   * Zero-copy receive, for a connection accepted by a server made with `recvBatch: true` (such
   * a socket emits 'segments' when bytes arrive, and no 'data'): up to
   * views.capacity segments of in-order bytes as UMEM views, in stream order. Releases the
   * previous call's first; these stay valid (and close the window) until release(), the next
   * recvBatch() or the connection's close. Returns the count (0: nothing queued). No allocation.
   */
  recvBatch(views: TcpViews): number {
    const t = this.tcb;
    views.n = 0;
    if (t === null || t.frames === null || this.destroyed) return 0;
    this.release();
    const q = t.frames;
    const max = views.capacity;
    let n = 0;
    let bytes = 0;
    while (n < max && q.read < q.tail) {
      const x = q.read & q.mask;
      views.addr[n] = q.data[x];
      bytes += views.len[n] = q.len[x];
      q.read++;
      n++;
    }
    views.n = n;
    views.u8 = this.ctx.u8;
    this.bytesRead += bytes;
    if (n > 0) this.touch();
    this.flow(); // EOF once the last bytes are out
    return n;
  }

  /** Return the frames recvBatch handed out to the pool (their views become invalid); the window opens. */
  release(): void {
    const t = this.tcb;
    const q = t?.frames ?? null;
    if (t === null || q === null || q.read === q.head) return;
    const pool = this.ctx.pool;
    let bytes = 0;
    const k = q.read - q.head;
    while (q.head < q.read) {
      const x = q.head & q.mask;
      pool.free(q.frame[x]);
      bytes += q.len[x];
      q.head++;
    }
    q.bytes -= bytes;
    this.ctx.mem.uncharge(k);
    q.rebase();
    tcpAfterRead(this.ctx, t);
  }

  /** Hand received bytes to the stream until it refuses more; EOF after the last of them. */
  private flow(): void {
    const t = this.tcb;
    if (t === null || this.destroyed) return;
    if (t.frames !== null) {
      // A zero-copy reader takes the bytes with recvBatch; the stream carries only the EOF.
      if (t.frames.queued === 0 && t.rx.pending === 0 && t.finRcvd && !this.eofPushed) {
        this.eofPushed = true;
        this.push(null);
      }
      return;
    }
    t.rx.seal();
    let pushed = false;
    let b: Buffer | null;
    while ((b = t.rx.shift()) !== null) {
      this.bytesRead += b.length;
      pushed = true;
      if (!this.push(b)) break;
    }
    if (t.rx.pending === 0 && t.finRcvd && !this.eofPushed) {
      this.eofPushed = true;
      this.push(null);
    }
    if (pushed) this.touch();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: WriteCb): void {
    this.send(chunk);
    this.afterWrite(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: WriteCb): void {
    const t = this.tcb;
    if (t !== null) {
      for (const c of chunks) this.written += c.chunk.length;
      tcpSendv(this.ctx, t, chunks);
    }
    this.afterWrite(cb);
  }

  private send(b: Buffer): void {
    const t = this.tcb;
    if (t === null) return;
    this.written += b.length;
    tcpSend(this.ctx, t, b);
  }

  private afterWrite(cb: WriteCb): void {
    const t = this.tcb;
    if (t === null || t.state === TCP_CLOSE || (t.finSent && !t.finQueued)) {
      cb(sysError('EPIPE', 'write'));
      return;
    }
    this.touch();
    if (t.sq.bytes < t.sndbuf) cb();
    else this.writeCb = cb;
  }

  override _final(cb: WriteCb): void {
    if (this.connecting) {
      // node:net shuts down after the connection is made.
      this.finalCb = cb;
      return;
    }
    if (this.tcb !== null) tcpShutdown(this.ctx, this.tcb);
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const t = this.tcb;
    if (t !== null && t.user === this) tcpClose(this.ctx, t, this.resetOnClose);
    this.connecting = false;
    // The write in flight fails as node's do on a destroyed stream (silently: it is destroyed).
    const w = this.writeCb;
    this.writeCb = null;
    if (w !== null) w(Object.assign(new Error('Cannot call write after a stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    cb(err);
  }

  private touch(): void {
    if (this.idleMs <= 0) {
      if (this.idleTimer !== null) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      return;
    }
    if (this.idleTimer !== null) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.emit('timeout');
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }
}

const EMPTY = new Uint8Array(0);

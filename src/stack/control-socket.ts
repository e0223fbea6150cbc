import { mkdirSync, unlinkSync, chmodSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

/**
 * The stack's unix control socket: newline-delimited JSON. A request is
 * `{"id": 1, "cmd": "stat", "args": {...}}`; the answer `{"id": 1, "ok": true, "result": ...}` or
 * `{"id": 1, "ok": false, "error": "..."}`. A streaming command (capture) sends
 * `{"id": 1, "event": {...}}` lines before its answer. A bad request only ever gets an error
 * reply: the handler runs inside try/catch and the stack never sees a malformed line.
 */

export interface ControlContext {
  /** Send an event line for this request (streaming commands). False once the client is gone. */
  send(event: unknown): boolean;
  /** Called when the client disconnects (stop streaming). */
  onClose(cb: () => void): void;
  /** True once the client disconnected. */
  readonly closed: boolean;
}

export type ControlHandler = (args: Record<string, unknown>, ctx: ControlContext) => unknown;

/** Longest request line accepted: requests are small; anything longer is abuse or a bug. */
const MAX_LINE = 1 << 20;

export class ControlServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
  ) {}

  /** Listen at `path`; refuses if another live stack listens there, replaces a stale socket. */
  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    if (await isAlive(this.path)) {
      throw new Error(`control socket ${this.path}: another softnet stack is listening there; stop it or set a different name/control path`);
    }
    try {
      unlinkSync(this.path);
    } catch {
      /* not there: fine */
    }
    // Half-open: a client that ends its side (Ctrl-C on capture) still gets the final answer.
    const server = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`control socket ${this.path}: listen failed (${e.code ?? e.message}); check the directory exists and is writable`)),
      );
      server.listen(this.path, () => resolve());
    });
    server.on('error', () => {});
    // Root-only by default: the socket can change routes and firewall rules.
    try {
      chmodSync(this.path, 0o600);
    } catch {
      /* best effort */
    }
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
    try {
      unlinkSync(this.path);
    } catch {
      /* gone already */
    }
  }

  private accept(s: Socket): void {
    this.clients.add(s);
    let buf = '';
    const closers: Array<() => void> = [];
    let closed = false;
    let ended = false;
    let inflight = 0;
    const runClosers = () => {
      for (const cb of closers.splice(0)) {
        try {
          cb();
        } catch {
          /* a closer must not take the stack down */
        }
      }
    };
    const finish = () => {
      if (closed) return;
      closed = true;
      this.clients.delete(s);
      runClosers();
    };
    // The client ended its side: stop streaming commands (their last events and answers are
    // still written), then end ours once every answer is out.
    const done = () => {
      if (inflight === 0 && !s.destroyed) s.end();
    };
    s.on('end', () => {
      ended = true;
      runClosers();
      done();
    });
    s.on('close', finish);
    s.on('error', finish);
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') {
          inflight++;
          void this.handle(s, line, closers, () => closed).finally(() => {
            inflight--;
            if (ended) done();
          });
        }
      }
      if (buf.length > MAX_LINE) {
        write(s, { id: null, ok: false, error: `request longer than ${MAX_LINE} bytes` });
        s.end();
        buf = '';
      }
    });
  }

  private async handle(s: Socket, line: string, closers: Array<() => void>, isClosed: () => boolean): Promise<void> {
    let id: unknown = null;
    try {
      let req: unknown;
      try {
        req = JSON.parse(line);
      } catch {
        throw new Error('request is not valid JSON (expected {"id": N, "cmd": "...", "args": {...}})');
      }
      if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new Error('request must be a JSON object');
      const r = req as Record<string, unknown>;
      id = r.id ?? null;
      if (typeof r.cmd !== 'string') throw new Error('request has no "cmd" string');
      const h = Object.hasOwn(this.handlers, r.cmd) ? this.handlers[r.cmd] : undefined;
      if (h === undefined) throw new Error(`unknown command ${JSON.stringify(r.cmd)} (known: ${Object.keys(this.handlers).join(', ')})`);
      const args = r.args ?? {};
      if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new Error('"args" must be a JSON object');
      const ctx: ControlContext = {
        send: (event) => (isClosed() ? false : write(s, { id, event })),
        onClose: (cb) => closers.push(cb),
        get closed() {
          return isClosed();
        },
      };
      const result = await h(args as Record<string, unknown>, ctx);
      write(s, { id, ok: true, result: result ?? null });
    } catch (e) {
      write(s, { id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function write(s: Socket, msg: unknown): boolean {
  if (s.destroyed || !s.writable) return false;
  s.write(JSON.stringify(msg) + '\n');
  return true;
}

/** True if something accepts connections at `path`. */
function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface RequestOptions {
  /** Streamed events of this request. */
  onEvent?: (event: unknown) => void;
  /** Give up after this long (0 = never). Default 10 s. */
  timeoutMs?: number;
  /**
   * Aborting ends our side of the connection: the server stops streaming, sends what it still
   * had and its answer, which resolves the request (null if it closes without one).
   */
  signal?: AbortSignal;
}

/** Send one request to a running stack; resolves with its result, rejects with its error. */
export function controlRequest(path: string, cmd: string, args: Record<string, unknown> = {}, opts: RequestOptions = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    let done = false;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const timer = timeoutMs > 0 ? setTimeout(() => finish(new Error(`control socket ${path}: no answer to ${cmd} within ${timeoutMs} ms`)), timeoutMs) : null;
    const onAbort = () => {
      if (s.connecting) finish(null, null);
      else s.end();
    };
    opts.signal?.addEventListener('abort', onAbort);
    function finish(err: Error | null, result?: unknown): void {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      s.destroy();
      if (err) reject(err);
      else resolve(result);
    }
    s.once('connect', () => s.write(JSON.stringify({ id: 1, cmd, args }) + '\n'));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        finish(new Error(`control socket ${path}: connect: ${e.code}: no softnet stack is running there (start one with \`softnet up --config FILE\`, or pass --name/--control)`));
      } else if (e.code === 'EACCES') {
        finish(new Error(`control socket ${path}: connect: EACCES: run as root (the socket is root-only)`));
      } else finish(new Error(`control socket ${path}: ${e.code ?? e.message}`));
    });
    s.on('close', () =>
      opts.signal?.aborted ? finish(null, null) : finish(new Error(`control socket ${path}: the stack closed the connection before answering ${cmd}`)),
    );
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          finish(new Error(`control socket ${path}: garbled answer`));
          return;
        }
        if ('event' in msg) opts.onEvent?.(msg.event);
        else if (msg.ok === true) finish(null, msg.result);
        else finish(new Error(String(msg.error ?? 'request failed')));
      }
    });
  });
}

/** The control socket path for a stack name or an explicit path. */
export function controlPath(opts: { name?: string; control?: string }): string {
  if (opts.control) return opts.control;
  return `/run/softnet/${opts.name ?? 'softnet'}.sock`;
}

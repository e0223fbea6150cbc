import http from 'node:http';
import { pipeline, type Duplex } from 'node:stream';
import type { Tcp } from './index.ts';
import { TcpViews } from './rcv-frames.ts';
import type { TcpServer } from './server.ts';

/** The TCP service kinds (config `services:`): echo (RFC 862), discard (RFC 863), a small HTTP responder. */
export const TCP_SERVICE_KINDS = ['echo', 'discard', 'http'] as const;

/** A buffer of the HTTP responder's /bytes/N body, repeated: printable, so curl | head shows it. */
const FILL = Buffer.from('softnet '.repeat(8192));

/**
 * Start one TCP service on `port` (address: all when undefined). An error on a connection (a
 * reset from the peer) ends that connection only; a listen error (EADDRINUSE) goes to onError.
 */
export function tcpService(tcp: Tcp, kind: string, port: number, address: string | undefined, onError: (e: Error) => void): TcpServer {
  let server: TcpServer;
  switch (kind) {
    case 'echo':
      server = tcp.createServer((c) => pipeline(c, c, () => undefined));
      break;
    case 'discard': {
      // Zero-copy: the bytes are never copied out of their frames, only released.
      const views = new TcpViews(64);
      server = tcp.createServer({ recvBatch: true }, (c) => {
        discard(c);
        c.on('segments', () => {
          while (c.recvBatch(views) > 0);
          c.release();
        });
      });
      break;
    }
    case 'http': {
      const hs = http.createServer(respond);
      // noDelay as node:http gets it on node:net (net.Server sets it on the handle, which
      // emitting 'connection' bypasses): a response written in two ticks must not wait for an ACK.
      server = tcp.createServer({ noDelay: true }, (c) => {
        c.on('error', () => undefined);
        hs.emit('connection', c);
      });
      break;
    }
    default:
      throw new Error(`tcp service kind ${kind} is unknown (${TCP_SERVICE_KINDS.join(' | ')})`);
  }
  server.on('error', onError);
  server.listen(port, address);
  return server;
}

/** The discard service's connection handler (RFC 863): read and drop; a reset ends only this connection. */
export function discard(c: Duplex): void {
  c.on('error', () => undefined);
  c.resume();
}

/**
 * The HTTP responder: `GET /` says hello, `GET /bytes/N` sends N bytes (a download to measure),
 * anything else 404. Bodies stream with backpressure (pipeline-safe for any N).
 */
export function respond(req: http.IncomingMessage, res: http.ServerResponse): void {
  const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello from softnet\n');
    return;
  }
  if (m === null) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  let left = Number(m[1]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
  const more = (): void => {
    while (left > 0) {
      const n = left < FILL.length ? left : FILL.length;
      left -= n;
      if (!res.write(n === FILL.length ? FILL : FILL.subarray(0, n))) {
        res.once('drain', more);
        return;
      }
    }
    res.end();
  };
  more();
}

// Two softnet stacks in one process, their memory ports wired back to back through a lossy
// "wire": TCP between two softnet ends on the real event loop and timer wheel — pipeline() with
// backpressure, node:http over softnet connections, loss and reordering recovered.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { Stack } from '../../src/stack/stack.ts';
import type { TcpSocket } from '../../src/transport/index.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { pattern } from '../support/rng.ts';
import { waitFor } from '../support/wait.ts';

interface Wire {
  /** Drop one frame in `lossEvery` (0: none); hold one in `reorderEvery` back behind the next. */
  lossEvery: number;
  reorderEvery: number;
  dropped: number;
}

async function pair(wire: Wire = { lossEvery: 0, reorderEvery: 0, dropped: 0 }) {
  const mk = async (name: string, addr: string) => {
    const s = await Stack.fromConfig(parseConfig(`name: ${name}\nports:\n  - {name: p0, dev: m${name}, mode: memory, addresses: [${addr}/24]}\n`), { control: null });
    await s.start();
    return s;
  };
  const a = await mk('a', '10.9.0.1');
  const b = await mk('b', '10.9.0.2');
  const pa = a.port('p0') as MemoryPort;
  const pb = b.port('p0') as MemoryPort;
  a.l2.neigh.addPermanent(0, parseIPv4('10.9.0.2'), pb.mac);
  b.l2.neigh.addPermanent(0, parseIPv4('10.9.0.1'), pa.mac);
  let n = 0;
  let held: Uint8Array | null = null;
  let heldTo: MemoryPort | null = null;
  const link = (to: MemoryPort) => (u8: Uint8Array, addr: number, len: number) => {
    const f = u8.slice(addr, addr + len);
    n++;
    if (wire.lossEvery > 0 && n % wire.lossEvery === 0) {
      wire.dropped++;
      return;
    }
    if (wire.reorderEvery > 0 && n % wire.reorderEvery === 0 && held === null) {
      // Behind the next frame, or at the next event-loop turn if none comes.
      held = f;
      heldTo = to;
      setImmediate(() => {
        if (held === f) {
          heldTo!.inject(f);
          held = null;
        }
      });
      return;
    }
    to.inject(f);
    if (held !== null) {
      heldTo!.inject(held);
      held = null;
    }
  };
  pa.sink = link(pb);
  pb.sink = link(pa);
  return {
    a,
    b,
    async stop() {
      for (const s of [a, b]) {
        const acct = await s.stop();
        expect(acct.lost).toBe(0);
        expect(acct.free).toBe(acct.total);
      }
    },
  };
}

let env: Awaited<ReturnType<typeof pair>> | null = null;
afterEach(async () => {
  await env?.stop();
  env = null;
});

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('softnet to softnet', () => {
  it('pipeline() moves 8 MiB through a slow consumer with backpressure, intact', { timeout: 60_000 }, async () => {
    env = await pair();
    const data = pattern(8 << 20, 3);
    const got = createHash('sha256');
    let bytes = 0;
    const done = new Promise<void>((res, rej) => {
      env!.b.tcp
        .createServer(async (c) => {
          // A consumer that takes its time every 64 KiB: the sender must be held back, not buffered without bound.
          const slow = new Writable({
            highWaterMark: 16 * 1024,
            write(chunk: Buffer, _e, cb) {
              got.update(chunk);
              bytes += chunk.length;
              if (bytes % (64 * 1024) < chunk.length) setTimeout(cb, 1);
              else cb();
            },
          });
          try {
            await pipeline(c, slow);
            res();
          } catch (e) {
            rej(e);
          }
        })
        .listen(9000);
    });
    const c = env.a.tcp.connect({ host: '10.9.0.2', port: 9000 });
    let maxQueued = 0;
    const probe = setInterval(() => (maxQueued = Math.max(maxQueued, c.writableLength + (c.tcb?.sq.bytes ?? 0))), 5);
    await pipeline(Readable.from(chunks(data, 256 * 1024)), c);
    await done;
    clearInterval(probe);
    expect(bytes).toBe(data.length);
    expect(got.digest('hex')).toBe(sha(data));
    // Backpressure held the sender to about its send buffer plus the stream's own buffer.
    expect(maxQueued).toBeLessThan(2 << 20);
  });

  it('node:http serves over softnet connections; the client connects through createConnection', async () => {
    env = await pair();
    const hs = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
    env.b.tcp.createServer((c) => hs.emit('connection', c)).listen(80);
    const agent = new http.Agent({ keepAlive: true });
    (agent as unknown as { createConnection: unknown }).createConnection = () => env!.a.tcp.connect({ host: '10.9.0.2', port: 80 });
    const get = (path: string) =>
      new Promise<string>((res, rej) => {
        http
          .get({ host: '10.9.0.2', path, agent }, (r) => {
            let s = '';
            r.setEncoding('utf8');
            r.on('data', (d) => (s += d));
            r.on('end', () => res(s));
          })
          .on('error', rej);
      });
    expect(await get('/one')).toBe('you asked for /one');
    expect(await get('/two')).toBe('you asked for /two');
    agent.destroy();
    expect(env.b.stats().mib.Tcp.PassiveOpens).toBe(1); // keep-alive: one connection for both
  });

  it('loss and reordering on the wire: data intact, retransmissions counted on the sender', { timeout: 60_000 }, async () => {
    const wire = { lossEvery: 37, reorderEvery: 11, dropped: 0 };
    env = await pair(wire);
    const data = pattern(2 << 20, 5);
    const received = new Promise<Buffer>((res) => {
      env!.b.tcp.createServer((c) => {
        const parts: Buffer[] = [];
        c.on('data', (d: Buffer) => parts.push(d));
        c.on('end', () => {
          res(Buffer.concat(parts));
          c.end();
        });
      }).listen(9001);
    });
    const c = env.a.tcp.connect({ host: '10.9.0.2', port: 9001 });
    c.end(data);
    const got = await received;
    expect(sha(got)).toBe(sha(data));
    expect(wire.dropped).toBeGreaterThan(0);
    const m = env.a.stats().mib;
    expect(m.Tcp.RetransSegs).toBeGreaterThan(0);
    expect(env.b.stats().mib.TcpExt.TCPOFOQueue).toBeGreaterThan(0);
  });

  it('an AbortSignal closes a connecting socket; connect to a closed port is ECONNREFUSED', async () => {
    env = await pair();
    const ac = new AbortController();
    const c = env.a.tcp.connect({ host: '10.9.0.2', port: 9999, signal: ac.signal });
    const e1 = new Promise<Error & { code?: string }>((r) => c.once('error', r));
    ac.abort();
    expect((await e1).name).toBe('AbortError');
    const d = env.a.tcp.connect({ host: '10.9.0.2', port: 9998 });
    const e2 = await new Promise<NodeJS.ErrnoException>((r) => d.once('error', r));
    expect(e2.code).toBe('ECONNREFUSED');
    // An echo server piping the connection into itself.
    env.b.tcp.createServer((s) => s.pipe(s)).listen(7);
    const e = env.a.tcp.connect({ host: '10.9.0.2', port: 7 });
    const echoed = new Promise<string>((r) => {
      let s = '';
      e.setEncoding('utf8');
      e.on('data', (x) => (s += x));
      e.on('end', () => r(s));
    });
    e.end('echo me');
    expect(await echoed).toBe('echo me');
  });

  it('an AbortSignal stops a server (listen({signal})): new connections are refused; one on a connection destroys it (AbortError), the peer sees the close', async () => {
    env = await pair();
    const ls = new AbortController();
    const peers: TcpSocket[] = [];
    const srv = env.b.tcp.createServer((c) => {
      c.on('error', () => undefined);
      c.resume();
      peers.push(c);
    });
    srv.listen({ port: 9100, signal: ls.signal });
    const cs = new AbortController();
    const c = env.a.tcp.connect({ host: '10.9.0.2', port: 9100, signal: cs.signal });
    await new Promise((r) => c.once('connect', r));
    await waitFor('the server to accept', () => peers.length === 1);
    ls.abort();
    const refused = await new Promise<NodeJS.ErrnoException>((r) => env!.a.tcp.connect({ host: '10.9.0.2', port: 9100 }).once('error', r));
    expect(refused.code).toBe('ECONNREFUSED');
    // The server stopped listening; its accepted connection lives on until aborted from the client.
    const peerClosed = new Promise((r) => peers[0].once('close', r));
    const err = new Promise<Error>((r) => c.once('error', r));
    cs.abort();
    expect((await err).name).toBe('AbortError');
    await peerClosed;
    expect(c.destroyed).toBe(true);
  });
});

function* chunks(b: Uint8Array, n: number): Generator<Uint8Array> {
  for (let k = 0; k < b.length; k += n) yield b.subarray(k, k + n);
}

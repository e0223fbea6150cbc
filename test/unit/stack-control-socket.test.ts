import { createConnection } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlServer, controlRequest } from '../../src/stack/control-socket.ts';

const dir = mkdtempSync(join(tmpdir(), 'sn-ctl-'));
const path = join(dir, 't.sock');
let streamed = 0;
const server = new ControlServer(path, {
  echo: (a) => a,
  fail: () => {
    throw new Error('nope');
  },
  stream: (_a, ctx) =>
    new Promise((resolve) => {
      let i = 0;
      const t = setInterval(() => {
        if (ctx.closed || i === 3) {
          clearInterval(t);
          resolve({ sent: i });
          return;
        }
        ctx.send({ i: i++ });
        streamed++;
      }, 5);
    }),
});

afterAll(() => server.close());

function raw(line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path, () => s.write(line));
    let b = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      b += d;
      if (b.includes('\n')) {
        s.destroy();
        resolve(b.trim());
      }
    });
  });
}

describe('control socket', () => {
  it('answers, errors and streams', async () => {
    await server.listen();
    expect(await controlRequest(path, 'echo', { a: 1 })).toEqual({ a: 1 });
    await expect(controlRequest(path, 'fail')).rejects.toThrow('nope');
    await expect(controlRequest(path, 'nosuch')).rejects.toThrow(/unknown command "nosuch"/);
    const events: unknown[] = [];
    expect(await controlRequest(path, 'stream', {}, { onEvent: (e) => events.push(e) })).toEqual({ sent: 3 });
    expect(events).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(streamed).toBe(3);
  });

  it('gives bad requests an error reply and keeps serving', async () => {
    expect(JSON.parse(await raw('not json\n'))).toMatchObject({ ok: false, error: expect.stringMatching(/not valid JSON/) });
    expect(JSON.parse(await raw('[1]\n'))).toMatchObject({ ok: false });
    expect(JSON.parse(await raw('{"id":7,"cmd":"echo","args":3}\n'))).toMatchObject({ id: 7, ok: false });
    expect(await controlRequest(path, 'echo', { still: 'alive' })).toEqual({ still: 'alive' });
  });

  it('refuses a second server on a live socket and explains a missing one', async () => {
    await expect(new ControlServer(path, {}).listen()).rejects.toThrow(/another softnet stack/);
    await expect(controlRequest(join(dir, 'none.sock'), 'echo')).rejects.toThrow(/ENOENT: no softnet stack is running/);
  });
});

// One worker thread per queue (DESIGN "more cores = more queues"): two workers each open a port
// on their own device and UMEM and receive concurrently. A worker that exits without closing
// its port must not leave the XDP program attached (the addon closes its fds at env teardown).
import { Worker } from 'node:worker_threads';
import { afterAll, expect, it } from 'vitest';
import { native } from '../../src/driver/index.ts';
import { udpBlast } from '../support/kernel-peer.ts';
import { Lab, hasXdp } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
afterAll(() => expect(lab.cleanup()).toEqual([]));

// Messages are queued per worker from the start: one sent before we wait for it is not lost.
const inbox = new Map<Worker, Array<Record<string, unknown>>>();
function listen(w: Worker): Worker {
  inbox.set(w, []);
  w.on('message', (m) => inbox.get(w)!.push(m));
  w.on('error', (e) => inbox.get(w)!.push({ error: String(e) }));
  return w;
}
async function message(w: Worker): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  while (inbox.get(w)!.length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 10));
  return inbox.get(w)!.shift() ?? { error: 'no message from worker within 20 s' };
}

it('two workers receive on two devices; terminating them detaches the programs', async () => {
  const ns = lab.netns('worker');
  lab.veth('snworker-a', 'snworker-ap', ns, '10.218.0.1', '10.218.0.2');
  lab.veth('snworker-b', 'snworker-bp', ns, '10.219.0.1', '10.219.0.2');
  const boot = new URL('../support/tsx-worker.mjs', import.meta.url);
  const script = new URL('./driver-worker.child.ts', import.meta.url).href;
  const workers = ['snworker-a', 'snworker-b'].map((dev) => listen(new Worker(boot, { workerData: { dev, script } })));
  try {
    for (const w of workers) expect(await message(w)).toEqual({ ready: true });
    expect(hasXdp('snworker-a') && hasXdp('snworker-b')).toBe(true);
    await Promise.all([udpBlast(ns, '10.218.0.1', 5001, 20_000), udpBlast(ns, '10.219.0.1', 5002, 20_000)]);
    // Ask each worker for its count until every frame arrived or was counted lost by the kernel
    // (a worker drains on its own loop; on a loaded machine it may fall behind: counted loss).
    for (const w of workers) {
      let r = { got: 0, lost: 0 };
      await waitFor('a worker to account for 20k frames', async () => {
        w.postMessage('count');
        r = (await message(w)) as { got: number; lost: number };
        return r.got + r.lost >= 20_000;
      }, { everyMs: 50, detail: () => JSON.stringify(r) });
      expect(r.got, JSON.stringify(r)).toBeGreaterThan(10_000);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  expect(hasXdp('snworker-a')).toBe(false);
  expect(hasXdp('snworker-b')).toBe(false);
  expect(native().xdpAttached()).toEqual([]);
});

// Worker thread for driver-worker.test.ts: one port per worker (its own UMEM), receives and
// counts; the parent terminates it without closing the port, to check teardown.
import { parentPort, workerData } from 'node:worker_threads';
import { openPort } from '../../src/driver/index.ts';

const { port } = openPort({ dev: (workerData as { dev: string }).dev, mode: 'xdp-drv' });
let got = 0;
const poll = () => {
  let n: number;
  while ((n = port.rx(64)) > 0) {
    for (let j = 0; j < n; j++) port.pool.free(port.rxAddr[j]);
    got += n;
  }
  port.armIrq(poll);
};
port.armIrq(poll);
parentPort!.on('message', (m) => {
  if (m !== 'count') return;
  // What the kernel dropped before the socket saw it (a loaded machine: the worker fell behind).
  const st = port.stats();
  parentPort!.postMessage({ got, lost: (st.rx_dropped ?? 0) + (st.rx_ring_full ?? 0) });
});
parentPort!.postMessage({ ready: true });

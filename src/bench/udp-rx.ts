// The softnet side of the udp scenario (udp.ts): a stack on one veth end (xdp-drv) with ADDR, a
// UDP socket on PORT, and an application reading it with the zero-copy batch receive (recvBatch +
// release), reading each datagram's first byte. Prints a rate line per second on stderr and, on
// SIGINT/SIGTERM, one JSON line on stdout:
//   {"packets", "seconds", "cpuSeconds", "rcvbuf", "drops", "udp", "port", "softnet", "runtime", "lost"}
// --stall STALL/PERIOD makes a slow reader: it stops reading for STALL ms every PERIOD ms without
// blocking the event loop (an async handler awaiting slow I/O), so the stack keeps receiving.
//
//   node [--import tsx] src/bench/udp-rx.ts --dev IF --addr 10.1.0.1/24 [--port 9] [--batch 64]
//        [--rcvbuf BYTES] [--rmem-max BYTES] [--stall MS/MS] [--budget N] [--time-limit-ms MS]
import { parseArgs } from '../cli/args.ts';
import { Stack } from '../stack/stack.ts';
import { UdpViews } from '../transport/index.ts';

const a = parseArgs(process.argv.slice(2), {
  dev: { type: 'string' },
  addr: { type: 'string', default: '10.1.0.1/24' },
  port: { type: 'int', min: 1, max: 65535, default: 9 },
  batch: { type: 'int', min: 1, max: 1024, default: 64 },
  rcvbuf: { type: 'int', min: 1, help: 'SO_RCVBUF request (capped by rmem_max, doubled); default rmem_default' },
  rmemMax: { type: 'int', min: 1, help: 'the stack\'s net.core.rmem_max' },
  stall: { type: 'string', metavar: 'MS/MS', help: 'slow reader: stop reading for STALL ms every PERIOD ms' },
  budget: { type: 'int', min: 1, max: 65536, default: 300, help: 'napi budget (netdev_budget)' },
  timeLimitMs: { type: 'number', min: 0.01, max: 100, default: 2, help: 'napi time limit per turn (netdev_budget_usecs / 1000)' },
});
if (a.dev === undefined) throw new Error('--dev is required');
const stall = a.stall === undefined ? null : /^(\d+)\/(\d+)$/.exec(a.stall);
if (a.stall !== undefined && (stall === null || Number(stall[1]) < 1 || Number(stall[2]) <= Number(stall[1]))) {
  throw new Error(`--stall ${a.stall}: expected STALL/PERIOD in ms, 0 < STALL < PERIOD`);
}

const s = new Stack({ name: 'udpbench', control: null, napi: { budget: a.budget, timeLimitMs: a.timeLimitMs } });
await s.addPort({ name: 'p0', dev: a.dev, mode: 'xdp-drv', addresses: [a.addr] });
if (a.rmemMax !== undefined) s.sysctl('net.core.rmem_max', a.rmemMax);
const sock = s.udp.createSocket(a.rcvbuf === undefined ? {} : { recvBufferSize: a.rcvbuf }).bind(a.port, a.addr.split('/')[0]);
const v = new UdpViews(a.batch);
let packets = 0;
let touched = 0;
let paused = false;
const read = () => {
  if (paused) return;
  let n;
  while ((n = sock.recvBatch(v)) > 0) {
    const u8 = v.u8;
    for (let k = 0; k < n; k++) touched += v.len[k] > 0 ? u8[v.addr[k]] : 0;
    packets += n;
  }
  sock.release();
};
sock.on('readable', read);
const stalls = stall
  ? setInterval(() => {
      paused = true;
      setTimeout(() => {
        paused = false;
        read();
      }, Number(stall[1]));
    }, Number(stall[2]))
  : null;
await s.start();
console.log(`udp-rx on ${a.dev} ${a.addr} port ${a.port} batch ${a.batch} rcvbuf ${sock.getRecvBufferSize()}`);

const t0 = performance.now();
const c0 = process.cpuUsage();
let last = 0;
let tlast = t0;
const timer = setInterval(() => {
  const t = performance.now();
  process.stderr.write(`${Math.round(((packets - last) * 1000) / (t - tlast))} pps\n`);
  last = packets;
  tlast = t;
}, 1000);

const finish = async () => {
  clearInterval(timer);
  if (stalls) clearInterval(stalls);
  const c = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  const st = s.stats();
  const rt = s.runtime().rows.filter((r) => r.packets > 0).map(({ name, calls, packets, packetsPerCall, nsPerPacket }) => ({ name, calls, packets, packetsPerCall, nsPerPacket }));
  const rcvbuf = sock.getRecvBufferSize();
  const drops = sock.drops;
  const acct = await s.stop();
  process.stdout.write(
    JSON.stringify({ packets, seconds, cpuSeconds: (c.user + c.system) / 1e6, touched, rcvbuf, drops, udp: st.mib.Udp, port: st.ports.p0, softnet: st.softnet[0], runtime: rt, lost: acct.lost }) + '\n',
  );
  process.exit(0);
};
process.once('SIGTERM', () => void finish());
process.once('SIGINT', () => void finish());

// The softnet side of bench/lab-udp.ts: a stack on one veth end (xdp-drv) with ADDR, a UDP socket
// on PORT, and an application reading it with the zero-copy batch receive (recvBatch + release),
// reading each datagram's first byte. Prints a rate line per second on stderr and, on
// SIGINT/SIGTERM, one JSON line on stdout: {"packets", "seconds", "cpuSeconds", "udp", "port", "runtime"}.
//
//   node --import tsx bench/udp-rx.ts --dev IF --addr 10.1.0.1/24 [--port 9] [--batch 64]
//        [--rcvbuf BYTES] [--budget N] [--time-limit-ms MS] [--sock-frames N]
import { parseArgs } from '../src/cli/args.ts';
import { Stack } from '../src/stack/stack.ts';
import { UdpViews } from '../src/transport/index.ts';

const a = parseArgs(process.argv.slice(2), {
  dev: { type: 'string' },
  addr: { type: 'string', default: '10.1.0.1/24' },
  port: { type: 'int', min: 1, max: 65535, default: 9 },
  batch: { type: 'int', min: 1, max: 1024, default: 64 },
  rcvbuf: { type: 'int', min: 4096, default: 4 << 20, help: 'SO_RCVBUF request (rmem_max is raised to allow it)' },
  budget: { type: 'int', min: 1, max: 65536, default: 300, help: 'napi budget (netdev_budget)' },
  timeLimitMs: { type: 'number', min: 0.01, max: 100, default: 2, help: 'napi time limit per turn (netdev_budget_usecs / 1000)' },
  sockFrames: { type: 'int', min: 1, help: 'net.core.sock_frames_max (default pool/4)' },
});
if (a.dev === undefined) throw new Error('--dev is required');

const s = new Stack({ name: 'udpbench', control: null, napi: { budget: a.budget, timeLimitMs: a.timeLimitMs } });
await s.addPort({ name: 'p0', dev: a.dev, mode: 'xdp-drv', addresses: [a.addr] });
s.sysctl('net.core.rmem_max', a.rcvbuf);
if (a.sockFrames !== undefined) s.sysctl('net.core.sock_frames_max', a.sockFrames);
const sock = s.udp.createSocket({ recvBufferSize: a.rcvbuf }).bind(a.port, a.addr.split('/')[0]);
const v = new UdpViews(a.batch);
let packets = 0;
let touched = 0;
sock.on('readable', () => {
  let n;
  while ((n = sock.recvBatch(v)) > 0) {
    const u8 = v.u8;
    for (let k = 0; k < n; k++) touched += v.len[k] > 0 ? u8[v.addr[k]] : 0;
    packets += n;
  }
  sock.release();
});
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
  const c = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  const st = s.stats();
  const rt = s.runtime().rows.filter((r) => r.packets > 0).map((r) => ({ stage: r.name, packetsPerCall: +r.packetsPerCall.toFixed(1), nsPerPacket: +r.nsPerPacket.toFixed(1) }));
  const acct = await s.stop();
  process.stdout.write(
    JSON.stringify({ packets, seconds, cpuSeconds: (c.user + c.system) / 1e6, touched, udp: st.mib.Udp, port: st.ports.p0, softnet: st.softnet[0], runtime: rt, lost: acct.lost }) + '\n',
  );
  process.exit(0);
};
process.once('SIGTERM', () => void finish());
process.once('SIGINT', () => void finish());

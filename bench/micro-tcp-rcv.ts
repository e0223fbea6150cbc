// Micro benchmark of softnet's TCP bulk receive path without the kernel around it: one
// connection on a memory port, 1448-byte segments (timestamps on, as from Linux) injected 40 at
// a time and polled through eth-input .. tcp-rcv to the discard service, the application's
// turn included (the microtasks and next-tick callbacks after each poll). Frames are built and injected
// outside the timed part. Prints ns per segment of wall time and of process CPU (all threads:
// V8's concurrent GC included), and the Gbit/s that would be at that cost.
// Run: node --import tsx bench/micro-tcp-rcv.ts [--segments N] [--reps R]
import { parseArgs } from '../src/cli/args.ts';
import { parseConfig } from '../src/config/load.ts';
import type { MemoryPort } from '../src/driver/memory.ts';
import { Stack } from '../src/stack/stack.ts';
import { parseIPv4, parseMac } from '../src/wire/addr.ts';
import { ETH_HLEN } from '../src/wire/ethernet.ts';
import { buildFrame } from '../src/wire/frame.ts';
import { IPV4_HLEN } from '../src/wire/ipv4.ts';
import { csumPartial } from '../src/wire/checksum.ts';
import { TCP_ACK, TCP_CHECK, TCP_HLEN, TCP_PSH, TCP_SEQ, TCP_SYN, tcpSetCsum } from '../src/wire/tcp.ts';

const args = parseArgs(process.argv.slice(2), {
  segments: { type: 'int', min: 64, help: 'segments per repetition (default 200000)' },
  reps: { type: 'int', min: 1, help: 'repetitions (default 5)' },
  kind: { type: 'string', help: 'TCP service kind receiving (default discard)' },
});
const SEGS = args.segments ?? 200_000;
const REPS = args.reps ?? 5;
/** Segments per poll: within the 64 KiB window of the SYN-ACK (the peer here ignores the window). */
const BATCH = 40;
const MSS = 1448;
const PEER = '10.1.0.2';
const PEER_MAC = '02:00:00:00:00:99';

const s = await Stack.fromConfig(
  parseConfig(`
name: micro
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}
services:
  - {proto: tcp, port: 9, kind: ${args.kind ?? 'discard'}}
`),
  { control: null },
);
await s.start();
const p0 = s.port('p0') as MemoryPort;
s.l2.neigh.addPermanent(0, parseIPv4(PEER), parseMac(PEER_MAC));
const turn = () => new Promise<void>((r) => setImmediate(r));
const tick = () => new Promise<void>((r) => process.nextTick(r));

const payload = new Uint8Array(MSS).map((_, i) => (i * 131 + 7) & 255);
let ts = 1000;
const seg = (seq: number, ack: number, flags: number, data?: Uint8Array, syn = false) =>
  buildFrame({
    dstMac: p0.mac,
    srcMac: PEER_MAC,
    ip: { src: PEER, dst: '10.1.0.1', df: true },
    tcp: { sport: 40000, dport: 9, seq, ack, flags, window: 65535, ...(syn ? { mss: 1460, wscale: 7, sackOk: true } : {}), ts: [ts++, 0] },
    payload: data,
  });
const TH = ETH_HLEN + IPV4_HLEN;

// Handshake.
let seq = 1_000_000;
p0.inject(seg(seq, 0, TCP_SYN, undefined, true));
while (p0.pending() > 0) s.napi.kick();
await turn();
const synAck = p0.takeTx().find((f) => f.length > TH + 14 && (f[TH + 13] & TCP_SYN) !== 0);
if (!synAck) throw new Error('no SYN-ACK');
const iss = new DataView(synAck.buffer, synAck.byteOffset).getUint32(TH + 4);
seq++;
p0.inject(seg(seq, iss + 1, TCP_ACK));
while (p0.pending() > 0) s.napi.kick();
await turn();

// The data segment: one frame, its sequence number, timestamp and checksum patched per segment.
const data = seg(seq, iss + 1, TCP_ACK | TCP_PSH, payload);
const ddv = new DataView(data.buffer, data.byteOffset, data.length);
const [saddr, daddr] = [parseIPv4(PEER), parseIPv4('10.1.0.1')];
const hlen = data.length - TH - MSS;
function next(): Uint8Array {
  ddv.setUint32(TH + TCP_SEQ, seq);
  ddv.setUint32(TH + TCP_HLEN + 4, ts++); // TSval (NOP NOP TS)
  ddv.setUint16(TH + TCP_CHECK, 0);
  tcpSetCsum(ddv, TH, hlen, hlen + MSS, saddr, daddr, csumPartial(ddv, TH + hlen, MSS, 0));
  seq = (seq + MSS) >>> 0;
  return data;
}

async function runOnce(n: number): Promise<{ wall: number; cpu: number }> {
  let wall = 0;
  let cpu = 0;
  for (let done = 0; done < n; done += BATCH) {
    for (let k = 0; k < BATCH; k++) if (!p0.inject(next())) throw new Error('RX ring or pool full');
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    while (p0.pending() > 0) s.napi.kick();
    // The application's turn: socket wake-ups, the ACK ring (microtasks), the stream's flow (nextTick).
    for (let k = 0; k < 4; k++) await tick();
    wall += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += c.user + c.system;
    p0.takeTx();
  }
  return { wall: (wall * 1e6) / n, cpu: (cpu * 1e3) / n };
}

await runOnce(20_000); // warm-up: JIT, chunk sizes
const res: { wall: number; cpu: number }[] = [];
for (let r = 0; r < REPS; r++) res.push(await runOnce(SEGS));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const wall = med(res.map((x) => x.wall));
const cpu = med(res.map((x) => x.cpu));
const mib = s.tcp.ctx.mib;
console.log(
  `tcp rcv ${args.kind ?? 'discard'}: ${wall.toFixed(0)} ns/segment wall, ${cpu.toFixed(0)} ns/segment CPU (median of ${REPS} x ${SEGS}); ` +
    `${((MSS * 8) / wall).toFixed(2)} Gbit/s at that cost; InSegs ${mib.tcp.get('InSegs')}, OutSegs ${mib.tcp.get('OutSegs')}, ` +
    `drops ${JSON.stringify(Object.fromEntries(Object.entries(s.stats().drops ?? {}).filter(([, v]) => (v as number) > 0)))}`,
);
await s.stop();

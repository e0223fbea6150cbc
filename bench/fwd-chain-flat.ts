// bench/c/fwd_chain.c in JavaScript: the same algorithm over the same input file (micro-fwd-chain.ts
// writes it), written the way C is, as a floor for what JS on V8 can cost: one function per
// packet, run to completion, no stages, no batch columns, no counters, no objects, only
// typed arrays and locals. micro-fwd-chain.ts runs it as a third side beside softnet's chain and
// the C, with the same modes and outputs as fwd_chain.c, so the three are checked frame by frame
// and timed or counted alike. What softnet costs over it is what its structure costs (stages,
// the graph, counters, the general paths); what it costs over C is what V8 costs.
//   node --import tsx bench/fwd-chain-flat.ts FILE --check OUT | --samples S --iters N | --count full|reset N
import { readFileSync, writeFileSync } from 'node:fs';
import { median } from '../src/bench/stats.ts';
import { resetFrame } from './fwd-chain-reset.ts';

const HDR = 34;
const NARROW_WIDE = 254;
const T24 = 1 << 24;
const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const RTN_UNICAST = 1;
const NEIGH_SLOTS = 1024;
const BATCH_MAX = 256;

function die(m: string): never {
  console.error(`fwd-chain-flat: ${m}`);
  process.exit(1);
}

const [file, mode, ...rest] = process.argv.slice(2);
if (file === undefined || mode === undefined) die('usage: fwd-chain-flat FILE --check OUT | --samples S --iters N | --count full|reset N');

// ---- load: fwd_chain.c load() ----------------------------------------------------------------
const buf = readFileSync(file);
const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
let cur = 0;
const take = (): number => words[cur++];
if (take() !== 0x46574331) die('not a fwd_chain input file');
const umemBytes = take();
take(); // frame size
const batchN = take();
const nRoutes = take();
const nRules = take();
const nLocal = take();
const nNeigh = take();
const nDevs = take();
if (batchN > BATCH_MAX || nDevs > 16) die('batch or devices too large');
const devHi = new Uint32Array(16);
const devLo = new Uint32Array(16);
const devMtu = new Uint32Array(16);
for (let d = 0; d < nDevs; d++) {
  devHi[d] = take();
  devLo[d] = take();
  devMtu[d] = take();
}
const inDstHi = take();
const inDstLo = take();
const inSrcHi = take();
const inSrcLo = take();
const bAddr = [new Uint32Array(BATCH_MAX), new Uint32Array(BATCH_MAX)];
const bLen = [new Uint32Array(BATCH_MAX), new Uint32Array(BATCH_MAX)];
const bIif = [new Uint32Array(BATCH_MAX), new Uint32Array(BATCH_MAX)];
for (let s = 0; s < 2; s++) {
  for (let k = 0; k < batchN; k++) bAddr[s][k] = take();
  for (let k = 0; k < batchN; k++) bLen[s][k] = take();
  for (let k = 0; k < batchN; k++) bIif[s][k] = take();
}
const routes: number[][] = [];
for (let k = 0; k < nRoutes; k++) routes.push([take(), take(), take(), take(), take() | 0, take()]);
const ruleProto = new Uint32Array(nRules);
const ruleSaddr = new Uint32Array(nRules);
const ruleSmask = new Uint32Array(nRules);
const ruleDport = new Uint32Array(nRules);
for (let k = 0; k < nRules; k++) {
  ruleProto[k] = take();
  ruleSaddr[k] = take();
  ruleSmask[k] = take();
  ruleDport[k] = take();
}
const locals = new Uint32Array(nLocal);
for (let k = 0; k < nLocal; k++) locals[k] = take();
const neighDev = new Uint32Array(NEIGH_SLOTS);
const neighIp = new Uint32Array(NEIGH_SLOTS);
const neighHi = new Uint32Array(NEIGH_SLOTS);
const neighLo = new Uint32Array(NEIGH_SLOTS);
const neighUsed = new Uint8Array(NEIGH_SLOTS);
const neighHash = (dev: number, ip: number): number => ((Math.imul(ip, 2654435761) ^ dev) >>> 0) & (NEIGH_SLOTS - 1);
for (let k = 0; k < nNeigh; k++) {
  const dev = take();
  const ip = take();
  const hi = take();
  const lo = take();
  let h = neighHash(dev, ip);
  while (neighUsed[h] !== 0) h = (h + 1) & (NEIGH_SLOTS - 1);
  neighDev[h] = dev;
  neighIp[h] = ip;
  neighHi[h] = hi;
  neighLo[h] = lo;
  neighUsed[h] = 1;
}
if (cur * 4 + umemBytes !== buf.byteLength) die('input file size does not match its header');
// The UMEM image in its own buffer, like a real UMEM.
const umem = new Uint8Array(umemBytes);
umem.set(buf.subarray(cur * 4));
const dv = new DataView(umem.buffer);

// ---- the FIB: DIR-24-8, built as fwd_chain.c fib_build() builds it ----------------------------
const nhType = new Uint32Array(1024);
const nhGw = new Uint32Array(1024);
const nhOif = new Int32Array(1024);
let nNh = 0;
function nhId(r: number[]): number {
  for (let k = 0; k < nNh; k++) if (nhType[k] === r[2] && nhGw[k] === r[3] && nhOif[k] === r[4]) return k;
  if (nNh === 1024) die('too many next hops');
  nhType[nNh] = r[2];
  nhGw[nNh] = r[3];
  nhOif[nNh] = r[4];
  return nNh++;
}
const n24 = new Uint8Array(T24);
const w24 = new Int32Array(T24);
let t8 = new Int32Array(0);
let groups = 0;
function newGroup(fill: number): number {
  if ((groups + 1) * 256 > t8.length) {
    const grown = new Int32Array(Math.max(256 * 256, t8.length * 2));
    grown.set(t8);
    t8 = grown;
  }
  t8.fill(fill, groups * 256, groups * 256 + 256);
  return (groups++ | 0x80000000) | 0;
}
routes.sort((x, y) => (x[1] !== y[1] ? x[1] - y[1] : y[5] - x[5]));
for (const r of routes) {
  const v = nhId(r) + 1;
  if (r[1] <= 24) {
    const start = r[0] >>> 8;
    const end = start + (1 << (24 - r[1]));
    w24.fill(v, start, end);
    n24.fill(v < NARROW_WIDE ? v : NARROW_WIDE, start, end);
  } else {
    const i = r[0] >>> 8;
    if (w24[i] >= 0) {
      w24[i] = newGroup(w24[i]);
      n24[i] = NARROW_WIDE;
    }
    const base = (w24[i] & 0x7fffffff) << 8;
    const from = r[0] & 255;
    t8.fill(v, base + from, base + from + (1 << (32 - r[1])));
  }
}

// ---- the chain: fwd_chain.c forward(), line for line -------------------------------------------
const txAddr = Array.from({ length: 16 }, () => new Uint32Array(BATCH_MAX));
const txLen = Array.from({ length: 16 }, () => new Uint32Array(BATCH_MAX));
const txN = new Uint32Array(16);

function martian(a: number): boolean {
  const top = a >>> 24;
  return top === 0 || top === 127 || top >= 224;
}

/** One packet from the wire to its TX descriptor; 1 = sent. */
function forward(a: number, len: number, iif: number): number {
  if (len < 14) return 0;
  let pkttype = PACKET_HOST;
  if ((umem[a] & 1) !== 0) {
    pkttype = dv.getUint32(a) === 0xffffffff && dv.getUint16(a + 4) === 0xffff ? PACKET_BROADCAST : PACKET_MULTICAST;
  } else if (dv.getUint32(a) !== devHi[iif] || dv.getUint16(a + 4) !== devLo[iif]) {
    return 0; // otherhost
  }
  if (dv.getUint16(a + 12) !== 0x0800) return 0;
  // ip_rcv_core
  if (len < 14 + 20) return 0;
  const h = a + 14;
  const avail = len - 14;
  const ihl = (umem[h] & 0x0f) << 2;
  if ((umem[h] & 0xf0) !== 0x40 || ihl < 20 || ihl > avail) return 0;
  let s = 0;
  for (let k = 0; k < ihl; k += 2) s += dv.getUint16(h + k);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  if (s !== 0xffff) return 0;
  const tot = dv.getUint16(h + 2);
  if (tot > avail || tot < ihl) return 0;
  len = 14 + tot;
  // route input: forwarded unicast only
  const saddr = dv.getUint32(h + 12);
  const daddr = dv.getUint32(h + 16);
  if (martian(saddr) || martian(daddr)) return 0;
  for (let k = 0; k < nLocal; k++) if (locals[k] === saddr) return 0;
  let e = n24[daddr >>> 8];
  if (e === NARROW_WIDE) {
    e = w24[daddr >>> 8];
    if (e < 0) e = t8[((e & 0x7fffffff) << 8) | (daddr & 255)];
  }
  const n = e - 1;
  if (n < 0 || nhType[n] !== RTN_UNICAST || nhOif[n] < 0) return 0;
  const oif = nhOif[n];
  const nhip = nhGw[n] !== 0 ? nhGw[n] : daddr;
  if (ihl > 20) return 0; // options: not handled here (none in the traffic)
  // ip_forward
  if (pkttype !== PACKET_HOST) return 0;
  if (umem[h + 8] <= 1) return 0;
  if (tot > devMtu[oif] && (dv.getUint16(h + 6) & 0x4000) !== 0) return 0;
  const old = dv.getUint16(h + 8);
  const nw = old - 0x100;
  dv.setUint16(h + 8, nw);
  let c = (~dv.getUint16(h + 10) & 0xffff) + (~old & 0xffff) + nw;
  c = (c & 0xffff) + (c >>> 16);
  c = (c & 0xffff) + (c >>> 16);
  dv.setUint16(h + 10, ~c & 0xffff);
  // FORWARD, in order; the policy is ACCEPT
  if (nRules !== 0) {
    const proto = umem[h + 9];
    const frag = dv.getUint16(h + 6) & 0x1fff;
    for (let k = 0; k < nRules; k++) {
      if (ruleProto[k] !== 0 && ruleProto[k] !== proto) continue;
      if (((saddr & ruleSmask[k]) >>> 0) !== ruleSaddr[k]) continue;
      if (ruleDport[k] !== 0) {
        // As xt_tcpudp: a later fragment or a header too short for the ports never matches.
        const need = proto === 6 ? 20 : 8;
        if (frag !== 0 || tot < ihl + need || dv.getUint16(h + ihl + 2) !== ruleDport[k]) continue;
      }
      return 0;
    }
  }
  if (tot > devMtu[oif]) return 0; // would fragment: not handled here
  // neigh_output
  let q = neighHash(oif, nhip);
  for (;;) {
    if (neighUsed[q] === 0) return 0;
    if (neighIp[q] === nhip && neighDev[q] === oif) break;
    q = (q + 1) & (NEIGH_SLOTS - 1);
  }
  dv.setUint32(a, neighHi[q]);
  dv.setUint16(a + 4, neighLo[q]);
  dv.setUint32(a + 6, devHi[oif]);
  dv.setUint16(a + 10, devLo[oif]);
  dv.setUint16(a + 12, 0x0800);
  // dev_queue_xmit
  const k = txN[oif]++;
  txAddr[oif][k] = a;
  txLen[oif][k] = len;
  return 1;
}

function dispatch(s: number): void {
  const addr = bAddr[s];
  const len = bLen[s];
  const iif = bIif[s];
  for (let k = 0; k < batchN; k++) forward(addr[k], len[k], iif[k]);
}

/** What the chain rewrote, back as it arrived (fwd_chain.c reset()). */
function reset(): void {
  const addr = bAddr[0];
  for (let k = 0; k < batchN; k++) resetFrame(dv, addr[k], inDstHi, inDstLo, inSrcHi, inSrcLo);
  txN.fill(0);
}

// ---- modes: fwd_chain.c main() -----------------------------------------------------------------
const full = (): void => {
  reset();
  dispatch(0);
};

if (mode === '--check' && rest.length === 1) {
  const per = 3 + HDR / 2;
  const out = new Uint32Array(2 * batchN * per);
  for (let s = 0; s < 2; s++) {
    txN.fill(0);
    dispatch(s);
    for (let k = 0; k < batchN; k++) {
      const a = bAddr[s][k];
      const row = (s * batchN + k) * per;
      for (let d = 0; d < nDevs; d++) {
        for (let j = 0; j < txN[d]; j++) {
          if (txAddr[d][j] !== a) continue;
          out[row] = 1;
          out[row + 1] = a;
          out[row + 2] = txLen[d][j];
        }
      }
      for (let w = 0; w < HDR / 2; w++) out[row + 3 + w] = dv.getUint16(a + 2 * w);
    }
  }
  writeFileSync(rest[0], out);
} else if (mode === '--count' && rest.length === 2) {
  for (let i = 0; i < 10_000; i++) full();
  const task = rest[0] === 'full' ? full : reset;
  const n = Number(rest[1]);
  // The counted region, as micro-fwd-chain.ts's: the process's one Array.prototype.reduceRight
  // call, from top-level code (never optimised), so valgrind collects inside it only.
  [0].reduceRight((acc) => {
    for (let i = 0; i < n; i++) task();
    return acc;
  }, 0);
} else {
  const opt = (name: string): number => {
    const all = [mode, ...rest];
    const i = all.indexOf(name);
    return i >= 0 ? Number(all[i + 1]) : 0;
  };
  const samples = opt('--samples');
  const iters = opt('--iters');
  if (!(samples >= 1 && iters >= 1)) die('--samples and --iters must be >= 1');
  const time = (fn: () => void): number => {
    const v: number[] = [];
    for (let s = 0; s < samples; s++) {
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) fn();
      v.push(((performance.now() - t0) * 1e6) / iters / batchN);
    }
    return median(v);
  };
  // Warm-up: the optimising tier, caches and TLB, as fwd_chain.c's 10000.
  for (let i = 0; i < 10_000; i++) full();
  const f = time(full);
  let sent = 0;
  for (let d = 0; d < nDevs; d++) sent += txN[d];
  if (sent !== batchN) die('a timed dispatch did not forward the whole batch');
  console.log(JSON.stringify({ full: Number(f.toFixed(3)), reset: Number(time(reset).toFixed(3)) }));
}

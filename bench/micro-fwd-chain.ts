// Micro benchmark of the whole IPv4 forwarding chain against C (issue 12's goal: within 2x a C
// implementation of the same algorithm, in the same run). softnet's real stages, wired by the
// real Stack on two memory ports, eth-input -> ip-rcv -> ip-forward -> neigh-output -> dev-xmit,
// over a batch of 64 frames of 64 B (60 + FCS; UDP 10.1.0.2 -> 10.2.0.2, 100 flows as the router
// scenario's generator makes them) at random addresses of a 4096-frame UMEM; 10k routes and the
// 20 non-matching FORWARD rules of the router scenario (src/bench/softnet-stack.ts); a permanent
// neighbour entry for the next hop; a port whose tx() only records the descriptors. Against it,
// bench/c/fwd_chain.c: the same algorithm in plain C over the same bytes (this script writes the
// UMEM image, the frame addresses, routes, rules, addresses and the neighbour to a file).
// Both sides time the same thing the same way: `samples` samples of `iters` iterations, each an
// iteration = reset what the chain rewrote (MACs, TTL with its checksum patched back, batch
// metadata) + one dispatch; a reset-only task measured the same way is subtracted; the median
// sample is reported, per round; JS/C is the median over the rounds. The first dispatch of the
// bench batch, and one of a batch of hostile and filtered frames (after the timing, see jsCheck),
// must give identical outputs on both sides: per frame the verdict, the TX descriptor and the
// first 34 bytes. A pass with every dispatch timed gives softnet's per-stage ns/packet
// (g.runtime()). The C's exact scope (what it does and leaves out) is in its header comment.
// A third side, fwd-chain-flat.ts, is the C's algorithm written as one plain JS function over the
// same input (checked against the C frame by frame, timed and counted alike): the floor of what
// this chain costs in JS on V8, so that softnet/flat is what softnet's structure costs and
// flat/C what V8 costs.
// --instructions counts instead of timing (valgrind's callgrind, each side in a process of its own,
// only inside the counted region: N iterations after a fixed warm-up): instructions per packet of
// the chain, as full minus reset like the times. Counts do not move with the load on a shared box,
// so they decide an A/B that times cannot; they leave out what an instruction costs (cache misses).
// Run: node --import tsx bench/micro-fwd-chain.ts [--time MS] [--rounds N] [--iters N] [--rules N] [--batch N] [--hostile-first] [--instructions | --cold MB]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import { callgrind } from './callgrind.ts';
import { resetFrame } from './fwd-chain-reset.ts';
import { buildC } from '../src/bench/cref.ts';
import { routeLines, ruleLines } from '../src/bench/softnet-stack.ts';
import { median } from '../src/bench/stats.ts';
import { Batch } from '../src/core/batch.ts';
import type { MemoryPort } from '../src/driver/memory.ts';
import { Stack } from '../src/stack/stack.ts';
import { parseIPv4, parseMac } from '../src/wire/addr.ts';
import { ipSendCheck } from '../src/wire/ipv4.ts';

const args = parseArgs(process.argv.slice(2), {
  time: { type: 'int', min: 50, default: 400, help: 'ms of samples per task and round (JS; C runs as many)' },
  rounds: { type: 'int', min: 1, max: 20, default: 3, help: 'JS then C, this many times (the median round is the result)' },
  iters: { type: 'int', min: 1, default: 64, help: 'iterations (dispatches) per timed sample' },
  batch: { type: 'int', min: 1, max: 64, default: 64, help: 'frames per dispatch (1: the lone packet of low load; the check batch is cut to as many)' },
  rules: { type: 'int', min: 0, max: 1000, default: 20, help: 'FORWARD rules of the router scenario (ruleLines), on both sides' },
  hostileFirst: { type: 'bool', help: 'dispatch the check batch before the timing instead of after' },
  cold: { type: 'int', min: 0, max: 1024, default: 0, help: 'time single dispatches (JS only) after writing this many MB, which flushes the caches, and without' },
  instructions: { type: 'bool', help: 'count instructions per packet under valgrind (callgrind) instead of timing' },
  count: { type: 'int', min: 0, default: 0, help: 'internal (--instructions): run --task this many times in the counted region, then exit' },
  task: { type: 'enum', values: ['full', 'reset'], default: 'full', help: 'internal (--instructions): what --count runs' },
});
const BATCH = args.batch;
const FRAMES = 4096;
const FLOWS = 100;
const HDR = 34; // Ethernet + IPv4 header: what the chain rewrites and the check compares

const MAC_P0 = parseMac('02:00:00:00:00:a0');
const MAC_P1 = parseMac('02:00:00:00:00:b0');
const MAC_HOST_A = parseMac('02:00:00:00:0a:01'); // the sender (lab host A)
const MAC_HOST_B = parseMac('02:00:00:00:0b:01'); // the next hop (lab host B)
const HOST_A = parseIPv4('10.1.0.2');
const HOST_B = parseIPv4('10.2.0.2');

// ---- the stack: the lab router's config on memory ports --------------------------------------
const stack = new Stack({ name: 'fwdchain', umem: 'memory', frames: FRAMES, control: null, log: () => {} });
await stack.addPort({ name: 'p0', dev: 'm0', mode: 'memory', addresses: ['10.1.0.1/24'], mac: '02:00:00:00:00:a0' });
await stack.addPort({ name: 'p1', dev: 'm1', mode: 'memory', addresses: ['10.2.0.1/24'], mac: '02:00:00:00:00:b0' });
stack.sysctl('ip_forward', 1);
for (const r of routeLines(10_000)) stack.route(`add ${r}`);
for (const r of ruleLines(args.rules)) stack.iptables(r);
const P1 = stack.devs.get('p1').index;
stack.l2.neigh.addPermanent(P1, HOST_B, MAC_HOST_B);
const g = stack.graph;
g.sampleEvery = 0;
const umem = stack.umem;
const u8 = umem.u8;
const dv = umem.dv;
const entry = g.id('eth-input');

// dev-xmit's ports: tx() records the descriptors (reset per iteration) and keeps the frames.
const txAddr = new Uint32Array(256);
const txLen = new Uint32Array(256);
let txN = 0;
for (const name of ['p0', 'p1']) {
  const port = stack.port(name) as MemoryPort;
  port.tx = (n: number): number => {
    for (let j = 0; j < n; j++) {
      txAddr[txN] = port.txAddr[j];
      txLen[txN++] = port.txLen[j];
    }
    return n;
  };
}

// ---- frames: 2 x 64 at random addresses of the UMEM -----------------------------------------
const all: number[] = [];
for (;;) {
  const a = stack.pool.alloc();
  if (a < 0) break;
  all.push(a);
}
let seed = 12;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
for (let k = all.length - 1; k > 0; k--) {
  const r = rnd() % (k + 1);
  [all[k], all[r]] = [all[r], all[k]];
}
const benchFrames = all.slice(0, BATCH);
const checkFrames = all.slice(BATCH, 2 * BATCH);
// The rest go back: drops in the check batch free their frames into the pool.
for (const a of all.slice(2 * BATCH)) stack.pool.free(a);

/** A 60-byte UDP/IPv4 frame (64 B on the wire with the FCS) as the router scenario's generator sends it. */
function writeUdp(a: number, flow: number, o: { saddr?: number; daddr?: number; proto?: number; dport?: number; ttl?: number; dst?: Uint8Array } = {}): void {
  u8.fill(0, a, a + 60);
  u8.set(o.dst ?? MAC_P0, a);
  u8.set(MAC_HOST_A, a + 6);
  dv.setUint16(a + 12, 0x0800);
  const h = a + 14;
  dv.setUint16(h, 0x4500);
  dv.setUint16(h + 2, 46);
  dv.setUint16(h + 4, flow);
  dv.setUint16(h + 6, 0x4000); // DF
  dv.setUint16(h + 8, ((o.ttl ?? 64) << 8) | (o.proto ?? 17));
  dv.setUint32(h + 12, o.saddr ?? HOST_A);
  dv.setUint32(h + 16, o.daddr ?? HOST_B);
  ipSendCheck(dv, h);
  dv.setUint16(h + 20, 1024 + (flow % 64512));
  dv.setUint16(h + 22, o.dport ?? 9);
  dv.setUint16(h + 24, 26);
  for (let k = 28; k < 46; k++) u8[h + k] = k;
}
for (let k = 0; k < BATCH; k++) writeUdp(benchFrames[k], k % FLOWS);

// The check batch: forwarded frames mixed with every kind of drop both sides decide the same way
// (no ICMP answers: TTL 1, no route and local delivery are not in it).
const checkLens = new Array<number>(BATCH).fill(60);
for (let k = 0; k < BATCH; k++) {
  const a = checkFrames[k];
  writeUdp(a, 37 + k);
  const h = a + 14;
  switch (k % 16) {
    case 1: dv.setUint16(h + 10, dv.getUint16(h + 10) ^ 0x0101); break; // bad checksum
    case 2: u8[h] = 0x65; ipSendCheck(dv, h); break; // version 6
    case 3: u8[h] = 0x44; break; // IHL 4
    case 4: dv.setUint16(h + 2, 200); ipSendCheck(dv, h); break; // tot_len past the frame
    case 5: writeUdp(a, k, { saddr: parseIPv4('127.0.0.9') }); break; // martian source
    case 6: writeUdp(a, k, { saddr: parseIPv4('224.1.2.3') }); break;
    case 7: writeUdp(a, k, { saddr: parseIPv4('10.2.0.1') }); break; // our own address as source
    case 8: writeUdp(a, k, { saddr: parseIPv4('192.0.2.4') }); break; // FORWARD -s 192.0.2.4/32 -j DROP
    case 9: writeUdp(a, k, { proto: 6, dport: 2001 }); break; // FORWARD -p tcp --dport 2001 -j DROP
    case 10: writeUdp(a, k, { proto: 6, dport: 2002 }); break; // TCP, no rule: forwarded
    case 11: writeUdp(a, k, { dst: MAC_P1 }); break; // another host's MAC: otherhost
    case 12: dv.setUint16(a + 12, 0x86dd); break; // IPv6
    case 13: writeUdp(a, k, { daddr: parseIPv4('100.64.3.7') }); break; // a /24 of the 10k: forwarded via 10.2.0.2
    case 14: checkLens[k] = 30; break; // shorter than its IP header
    case 15: writeUdp(a, k, { dst: parseMac('ff:ff:ff:ff:ff:ff') }); break; // broadcast MAC, unicast IP: not forwarded
  }
}

// ---- the per-iteration work -------------------------------------------------------------------
const b = new Batch(256);
const P0 = stack.devs.get('p0').index;
for (let k = 0; k < BATCH; k++) b.push(benchFrames[k], 60, P0);
const benchAddr = Uint32Array.from(benchFrames);
const dstHi = (MAC_P0[0] << 24) | (MAC_P0[1] << 16) | (MAC_P0[2] << 8) | MAC_P0[3];
const dstLo = (MAC_P0[4] << 8) | MAC_P0[5];
const srcHi = (MAC_HOST_A[0] << 24) | (MAC_HOST_A[1] << 16) | (MAC_HOST_A[2] << 8) | MAC_HOST_A[3];
const srcLo = (MAC_HOST_A[4] << 8) | MAC_HOST_A[5];

/** What the chain rewrote, back as it arrived (fwd-chain-reset.ts), and the descriptors. fwd_chain.c reset() does the same. */
function reset(): void {
  for (let k = 0; k < BATCH; k++) {
    const a = benchAddr[k];
    resetFrame(dv, a, dstHi, dstLo, srcHi, srcLo);
    b.addr[k] = a;
    b.len[k] = 60;
    b.iif[k] = P0;
  }
  b.n = BATCH;
  txN = 0;
}

// ---- the C side's input -----------------------------------------------------------------------
const dir = mkdtempSync(path.join(os.tmpdir(), 'sn-fwdchain-'));
const inFile = path.join(dir, 'in.bin');
const outFile = path.join(dir, 'check.bin');
/** The input file's directory gone and the stack stopped: the end of every mode. */
async function finish(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  await stack.stop();
}

function writeInput(): void {
  const w: number[] = [];
  const mac2 = (m: Uint8Array) => w.push(((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0, (m[4] << 8) | m[5]);
  const devs = stack.devs.list;
  const routes = stack.ipv4.fib.list();
  const fib = stack.ipv4.fib;
  const rules = ruleLines(args.rules).map((line) => {
    // The two shapes ruleLines makes: -s A/32 -j DROP, -p tcp --dport N -j DROP.
    const s = /-s (\S+)\/32/.exec(line);
    const d = /-p (\w+) --dport (\d+)/.exec(line);
    if (s) return [0, parseIPv4(s[1]), 0xffffffff, 0];
    if (d) return [d[1] === 'tcp' ? 6 : 17, 0, 0, Number(d[2])];
    throw new Error(`rule shape not known to fwd_chain.c: ${line}`);
  });
  const locals = devs.flatMap((d) => d.addrs.map((x) => x.addr));
  w.push(0x46574331, umem.buffer.byteLength, umem.frameSize, BATCH, routes.length, rules.length, locals.length, 1, devs.length);
  for (const d of devs) {
    mac2(d.mac);
    w.push(d.mtu);
  }
  mac2(MAC_P0);
  mac2(MAC_HOST_A);
  for (const frames of [benchFrames, checkFrames]) {
    for (let k = 0; k < BATCH; k++) w.push(frames[k]);
    for (let k = 0; k < BATCH; k++) w.push(frames === benchFrames ? 60 : checkLens[k]);
    for (let k = 0; k < BATCH; k++) w.push(P0);
  }
  for (const r of routes) {
    // A route via a gateway (oif -1) goes out where the gateway's connected route does.
    const oif = r.oif >= 0 ? r.oif : fib.nhOif[fib.lookup(r.gateway)];
    w.push(r.prefix >>> 0, r.len, r.type, r.gateway >>> 0, oif, r.metric);
  }
  for (const r of rules) w.push(...r.map((x) => x >>> 0));
  for (const a of locals) w.push(a >>> 0);
  w.push(P1, HOST_B);
  mac2(MAC_HOST_B);
  const head = Buffer.from(new Uint32Array(w).buffer);
  writeFileSync(inFile, Buffer.concat([head, Buffer.from(umem.buffer)]));
}

// ---- differential check -----------------------------------------------------------------------
const VERDICT_TX = 1;
/** Per frame: verdict, TX address, TX length, the first 34 bytes at the frame's address. */
function outcome(frames: number[]): Uint32Array[] {
  return frames.map((a) => {
    let t = -1;
    for (let j = 0; j < txN; j++) if (txAddr[j] === a) t = j;
    const r = new Uint32Array(3 + HDR / 2);
    r[0] = t >= 0 ? VERDICT_TX : 0;
    r[1] = t >= 0 ? txAddr[t] : 0;
    r[2] = t >= 0 ? txLen[t] : 0;
    for (let k = 0; k < HDR / 2; k++) r[3 + k] = dv.getUint16(a + 2 * k);
    return r;
  });
}

/** The first dispatch of the bench batch. */
function jsBench(): Uint32Array[] {
  reset();
  g.dispatch(b, entry);
  return outcome(benchFrames);
}

/**
 * One dispatch of the check batch: after the timing unless --hostile-first, so that the timed
 * code was optimised on the benchmark traffic alone (on the loaded 2-core box no difference
 * between the two orders stood out of the noise). Its frames are not touched before, so they
 * hold the bytes the C started from.
 */
function jsCheck(): Uint32Array[] {
  const c = new Batch(256);
  for (let k = 0; k < BATCH; k++) c.push(checkFrames[k], checkLens[k], P0);
  txN = 0;
  g.dispatch(c, entry);
  return outcome(checkFrames);
}

function cOutcomes(): Uint32Array[][] {
  const buf = readFileSync(outFile);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const per = 3 + HDR / 2;
  const out: Uint32Array[][] = [];
  for (let s = 0; s < 2; s++) {
    const rows: Uint32Array[] = [];
    for (let k = 0; k < BATCH; k++) rows.push(words.slice((s * BATCH + k) * per, (s * BATCH + k + 1) * per));
    out.push(rows);
  }
  return out;
}

function hex(r: Uint32Array): string {
  const bytes = [...r.slice(3)].map((w) => w.toString(16).padStart(4, '0')).join('');
  return `verdict ${r[0] === VERDICT_TX ? 'tx' : 'drop'} addr ${r[1]} len ${r[2]} hdr ${bytes}`;
}

writeInput(); // before any dispatch: the C starts from the bytes the JS starts from
const bin = buildC('fwd_chain');
execFileSync(bin, [inFile, '--check', outFile], { stdio: ['ignore', 'ignore', 'inherit'] });
const cc = cOutcomes();
/** `who`'s outcomes for batch s equal the C's, or exit with the first difference; returns how many were sent. */
function compare(s: number, js: Uint32Array[], who = 'softnet'): number {
  const names = ['bench batch', 'check batch'];
  let sent = 0;
  for (let k = 0; k < BATCH; k++) {
    const a = js[k];
    const c = cc[s][k];
    if (a.some((x, i) => x !== c[i])) {
      console.error(`outputs differ: ${names[s]} frame ${k}${s === 1 ? ` (case ${k % 16})` : ''}\n  ${who}: ${hex(a)}\n  C: ${hex(c)}`);
      process.exit(1);
    }
    sent += a[0];
  }
  return sent;
}
// The third side: the C's algorithm in one plain JS function (fwd-chain-flat.ts), same input,
// checked like softnet. Not in a --count child: the parent checked it, and the child's
// --perf-basic-prof would pass on to it.
const flat = [...process.execArgv, path.join(import.meta.dirname, 'fwd-chain-flat.ts'), inFile];
if (args.count === 0) {
  execFileSync(process.execPath, [...flat, '--check', outFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const fo = cOutcomes();
  for (let s = 0; s < 2; s++) compare(s, fo[s], 'fwd-chain-flat');
}
const benchSent = compare(0, jsBench());
if (benchSent !== BATCH) throw new Error(`bench batch: ${benchSent} of ${BATCH} forwarded`);
const checkSent = args.hostileFirst ? compare(1, jsCheck()) : -1;

// ---- timing -----------------------------------------------------------------------------------
const ITERS = args.iters;
/** --instructions: dispatches before the counted region (enough for V8's optimising tier) and in it. */
const COUNT_WARMUP = 20_000;
const COUNT_ITERS = 2_000;

/** Median of the per-sample ns/packet of `samples` samples of ITERS iterations of fn. */
function timeJs(fn: () => void, samples: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERS; i++) fn();
    out.push(Number(process.hrtime.bigint() - t0) / ITERS / BATCH);
  }
  return out;
}
const full = (): void => {
  reset();
  g.dispatch(b, entry);
};

if (args.count > 0) {
  // Under valgrind (--instructions): a fixed warm-up, then the counted region: the process's one
  // call of Array.prototype.reduceRight (neither softnet nor tsx calls it), made from top-level
  // code, which V8 never optimises, so the builtin really runs (an optimised caller would inline
  // it) and valgrind collects inside it only.
  const task = args.task === 'full' ? full : reset;
  for (let i = 0; i < COUNT_WARMUP; i++) full();
  [0].reduceRight((acc) => {
    for (let i = 0; i < args.count; i++) task();
    return acc;
  }, 0);
  await finish();
  process.exit(0);
}
if (args.instructions) {
  const n = COUNT_ITERS;
  // Optimisation on the main thread: under valgrind a background compile can finish at any
  // point of the counted region, so a function would be counted partly in a lower tier.
  const node = [...process.execArgv, '--perf-basic-prof', '--no-concurrent-recompilation', process.argv[1], '--rules', String(args.rules), '--batch', String(BATCH), '--count', String(n)];
  const js = (task: string) => callgrind(process.execPath, [...node, '--task', task], 'Builtins_ArrayReduceRight');
  const c = (task: string) => callgrind(bin, [inFile, '--count', task, String(n)], 'counted');
  const fl = (task: string) => callgrind(process.execPath, ['--perf-basic-prof', '--no-concurrent-recompilation', ...flat, '--count', task, String(n)], 'Builtins_ArrayReduceRight');
  const packets = n * BATCH;
  const jsFull = js('full');
  const jsChain = (jsFull.total - js('reset').total) / packets;
  const cChain = (c('full').total - c('reset').total) / packets;
  const flatChain = (fl('full').total - fl('reset').total) / packets;
  const x = (v: number, of: number) => `${(v / of).toFixed(2)}x`;
  console.log(`instructions per packet (callgrind; ${n} dispatches of ${BATCH} after ${COUNT_WARMUP} to warm up; full minus reset):`);
  console.log(`  chain: JS ${jsChain.toFixed(0)}, C ${cChain.toFixed(0)}, JS/C ${(jsChain / cChain).toFixed(2)}`);
  console.log(`  the C's algorithm as one JS function (fwd-chain-flat.ts): ${flatChain.toFixed(0)} = ${x(flatChain, cChain)} C; softnet's chain = ${x(jsChain, flatChain)} it`);
  console.log('JS per function (self, the full task: reset included):');
  const top = [...jsFull.byFn].sort((x, y) => y[1] - x[1]).slice(0, 20);
  console.table(top.map(([fn, v]) => ({ function: fn.replace(/file:\/\/\/.*\/(src|bench)\//, '$1/').slice(0, 70), 'instructions/packet': (v / packets).toFixed(1) })));
  await finish();
  process.exit(0);
}

if (args.cold > 0) {
  // A dispatch after the caches were flushed, as one is after an idle millisecond at low load
  // (the latency scenario): write `cold` MB, then time one dispatch; the same without the
  // writes beside it. JS only. hrtime.bigint allocates: fine here, no GC is being measured.
  for (let i = 0; i < 30_000; i++) full();
  const junk = new Uint8Array(args.cold << 20);
  const dispatches = (cold: boolean): string => {
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) {
      if (cold) for (let j = 0; j < junk.length; j += 64) junk[j]++;
      reset();
      const t0 = process.hrtime.bigint();
      g.dispatch(b, entry);
      out.push(Number(process.hrtime.bigint() - t0));
    }
    out.sort((x, y) => x - y);
    return `p50 ${out[1500]} ns, p90 ${out[2700]} ns`;
  };
  console.log(`one dispatch of ${BATCH} x 64 B, warm: ${dispatches(false)}; after writing ${args.cold} MB: ${dispatches(true)}`);
  await finish();
  process.exit(0);
}

// Warm-up (JIT tiers, caches), then the number of samples that fills --time, used by both sides.
const w0 = performance.now();
while (performance.now() - w0 < 300) full();
const one = median(timeJs(full, 20)) * BATCH * ITERS;
const SAMPLES = Math.max(11, Math.round((args.time * 1e6) / one));

interface Round {
  jsFull: number;
  jsReset: number;
  cFull: number;
  cReset: number;
  /** fwd-chain-flat.ts: full minus reset. */
  flat: number;
}
const rounds: Round[] = [];
const sentNow = (): number => txN;
const timed = (cmd: string, argv: string[]): { full: number; reset: number } =>
  JSON.parse(execFileSync(cmd, [...argv, '--samples', String(SAMPLES), '--iters', String(ITERS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as { full: number; reset: number };
const runC = () => timed(bin, [inFile]);
const runFlat = () => timed(process.execPath, flat);
for (let r = 0; r < args.rounds; r++) {
  // Alternate who goes first: a load change on the shared machine then hits both sides.
  const c1 = r % 2 === 1 ? runC() : null;
  const jsFull = median(timeJs(full, SAMPLES));
  if (sentNow() !== BATCH) throw new Error(`timed dispatch forwarded ${sentNow()} of ${BATCH}`);
  const jsReset = median(timeJs(reset, SAMPLES));
  const c = c1 ?? runC();
  const fl = runFlat();
  rounds.push({ jsFull, jsReset, cFull: c.full, cReset: c.reset, flat: fl.full - fl.reset });
}

// Per-stage: every dispatch timed (one stage run per dispatch, taking turns).
g.clearRuntime();
g.sampleEvery = 1;
for (let i = 0; i < SAMPLES * ITERS; i++) full();
g.sampleEvery = 0;
const rows = g.runtime().filter((r) => r.packets > 0);

const checkSentAfter = checkSent >= 0 ? checkSent : compare(1, jsCheck());
console.log(
  `outputs identical (verdict, TX descriptor, 34 header bytes): bench batch ${benchSent}/${BATCH} forwarded, ` +
    `check batch (hostile and filtered frames, dispatched ${args.hostileFirst ? 'before' : 'after'} the timing) ${checkSentAfter}/${BATCH}`,
);
const f1 = (x: number) => x.toFixed(1);
console.log(`batch ${BATCH} x 64 B (60 + FCS), ${FLOWS} flows, frames at random addresses of ${FRAMES} x ${umem.frameSize} B; 10k routes, ${args.rules} FORWARD rules (none matching)`);
console.log(`per task and round: median of ${SAMPLES} samples of ${ITERS} iterations (reset + dispatch), ns/packet`);
console.table(
  rounds.map((r, k) => ({
    round: k + 1,
    'JS full': f1(r.jsFull),
    'JS reset': f1(r.jsReset),
    'JS chain': f1(r.jsFull - r.jsReset),
    'C full': f1(r.cFull),
    'C reset': f1(r.cReset),
    'C chain': f1(r.cFull - r.cReset),
    'JS/C': ((r.jsFull - r.jsReset) / (r.cFull - r.cReset)).toFixed(2),
    'flat JS chain': f1(r.flat),
    'flat/C': (r.flat / (r.cFull - r.cReset)).toFixed(2),
  })),
);
const ratios = rounds.map((r) => (r.jsFull - r.jsReset) / (r.cFull - r.cReset));
const mid = rounds[ratios.indexOf(median(ratios))] ?? rounds[0];
const ratio = median(ratios);
console.log(
  `chain (minus reset): JS ${f1(mid.jsFull - mid.jsReset)} ns/packet, C ${f1(mid.cFull - mid.cReset)} ns/packet, JS/C ${ratio.toFixed(2)} ` +
    `(median of ${rounds.length} rounds; goal <= 2): ${ratio <= 2 ? 'met' : 'not met'}`,
);
const flatRatio = median(rounds.map((r) => r.flat / (r.cFull - r.cReset)));
console.log(`the C's algorithm as one JS function (fwd-chain-flat.ts): ${flatRatio.toFixed(2)}x C (median of ${rounds.length} rounds)`);
console.log('softnet per stage (every dispatch timed, one stage run each):');
console.table(rows.map((r) => ({ stage: r.name, packets: r.packets, 'packets/call': r.packetsPerCall.toFixed(1), 'ns/packet': f1(r.nsPerPacket) })));
console.log(`sum of stages: ${f1(rows.reduce((a, r) => a + r.nsPerPacket, 0))} ns/packet`);
await finish();

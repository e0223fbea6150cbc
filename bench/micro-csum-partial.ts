// Micro benchmark of csum_partial (issue 8 §4): ns/packet of CsumPartialRx.complete — the check
// alone (a full checksum: no match) and check + completion (a partial checksum) — for UDP and TCP
// in 50 B and 1500 B IPv4 datagrams, 4096 frames at a 2048 B stride (cold, like a UMEM). Five
// repetitions of 100 rounds each after a warm-up round; min/median/max. Partial fields are
// restored between rounds, outside the timed part, so every call does the full work.
// Run: taskset -c 1 node --import tsx bench/micro-csum-partial.ts
import { CsumPartialRx } from '../src/ipv4/csum-partial.ts';
import { csumFinish, csumFold, csumPartial, pseudoHdrSum } from '../src/wire/checksum.ts';
const N = 4096, STRIDE = 2048;
function setup(tot: number, partial: boolean, proto: number) {
  const buf = new ArrayBuffer(N * STRIDE); const dv = new DataView(buf); const u8 = new Uint8Array(buf);
  for (let k = 0; k < N; k++) {
    const h = k * STRIDE;
    u8[h] = 0x45; dv.setUint16(h + 2, tot); u8[h + 8] = 64; u8[h + 9] = proto;
    dv.setUint32(h + 12, 0x0a010002); dv.setUint32(h + 16, 0x0a020002 + k);
    for (let i = 20; i < tot; i++) u8[h + i] = (i * 7 + k) & 255;
    const l4 = h + 20, len = tot - 20, off = proto === 17 ? 6 : 16;
    if (proto === 17) dv.setUint16(l4 + 4, len);
    dv.setUint16(l4 + off, 0);
    const ps = pseudoHdrSum(0x0a010002, 0x0a020002 + k, proto, len);
    dv.setUint16(l4 + off, partial ? csumFold(ps) : csumFinish(csumPartial(dv, l4, len, ps)));
  }
  return { dv, u8 };
}
for (const proto of [17, 6]) for (const tot of [64 - 14, 1500]) for (const partial of [false, true]) {
  const res: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const { dv, u8 } = setup(tot, partial, proto);
    const saved = u8.slice();
    const cp = new CsumPartialRx();
    const ROUNDS = 100;
    // Restore the partial fields each round so every call does the full work.
    for (let k = 0; k < N; k++) cp.complete(dv, k * STRIDE, 20, tot, 0);
    u8.set(saved);
    const t0 = process.hrtime.bigint();
    let restoreNs = 0n;
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < N; k++) cp.complete(dv, k * STRIDE, 20, tot, 0);
      if (partial) { const a = process.hrtime.bigint(); u8.set(saved); restoreNs += process.hrtime.bigint() - a; }
    }
    const ns = Number(process.hrtime.bigint() - t0 - restoreNs) / (ROUNDS * N);
    res.push(ns);
  }
  res.sort((a, b) => a - b);
  console.log(`${proto === 17 ? 'UDP' : 'TCP'} ip tot ${tot} ${partial ? 'partial (check+complete)' : 'full (check only)'}: ns/packet min ${res[0].toFixed(1)} median ${res[2].toFixed(1)} max ${res[4].toFixed(1)}`);
}

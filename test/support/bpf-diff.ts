// For the eBPF differential tests: a corpus of frames (well-formed, VLAN, IP options, fragments,
// malformed, every truncation of a few), a generated family of random filters in the compiled
// subset, and running one filter module in JS at the very end of its buffer.
import { XdpContext } from '../../src/core/xdp-helpers.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { prng } from './hostile-frames.ts';

const MAC_A = [0x02, 0, 0, 0, 0, 0xa0];
const MAC_P = [0x02, 0, 0, 0, 0, 0x99];

/** Frames of at least 14 bytes (BPF_PROG_TEST_RUN refuses shorter ones; no NIC delivers them). */
export function frameCorpus(seed: number, randomCount: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const base = { dstMac: MAC_A, srcMac: MAC_P };
  const full = [
    buildFrame({ ...base, ip: { src: '10.0.0.2', dst: '10.0.0.1' }, udp: { sport: 4000, dport: 53 }, payload: 18 }),
    buildFrame({ ...base, ip: { src: '10.0.0.2', dst: '10.0.0.1' }, udp: { sport: 1900, dport: 11211 }, payload: 4 }),
    buildFrame({ ...base, ip: { src: '192.168.1.7', dst: '10.0.0.1' }, tcp: { sport: 40000, dport: 80, flags: 0x02 } }),
    buildFrame({ ...base, ip: { src: '192.168.1.7', dst: '10.0.0.1' }, tcp: { sport: 40000, dport: 443, flags: 0x12 } }),
    buildFrame({ ...base, vlan: 100, ip: { src: '10.0.0.2', dst: '10.0.0.1' }, udp: { sport: 7, dport: 19 }, payload: 10 }),
    buildFrame({ ...base, qinq: 200, vlan: 5, ip: { src: '10.0.0.2', dst: '10.0.0.1' }, udp: { sport: 7, dport: 19 }, payload: 10 }),
    buildFrame({ ...base, ip: { src: '10.1.2.3', dst: '10.0.0.1', options: [1, 1, 1, 1, 0x94, 4, 0, 0] }, tcp: { sport: 1, dport: 22, flags: 0x02 } }),
    buildFrame({ ...base, ip: { src: '10.0.0.2', dst: '10.0.0.1', mf: true }, udp: { sport: 4000, dport: 53 }, payload: 30 }),
    buildFrame({ ...base, ip: { src: '10.0.0.2', dst: '10.0.0.1', fragOff: 185 }, udp: { sport: 4000, dport: 53 }, payload: 30 }),
    buildFrame({ ...base, ip: { src: '10.0.0.2', dst: '10.0.0.1' }, icmp: { type: 8 }, payload: 8 }),
    buildFrame({ ...base, type: 0x0806, payload: 28 }),
    buildFrame({ ...base, type: 0x86dd, payload: 40 }),
  ];
  for (const f of full) {
    out.push(f);
    // Every truncation: fields cut in half, headers absent.
    for (let n = 14; n < f.length; n++) out.push(f.slice(0, n));
  }
  // Malformed: version 6 in an IPv4 EtherType, ihl < 5, ihl beyond the frame, ihl 15.
  const udp = full[0];
  for (const vihl of [0x65, 0x44, 0x4f, 0x46, 0x00, 0xff]) {
    const f = udp.slice();
    f[14] = vihl;
    out.push(f);
  }
  const r = prng(seed);
  for (let i = 0; i < randomCount; i++) {
    // Mutate a well-formed frame at a few random bytes, at a random length.
    const f = full[r() % full.length].slice();
    const k = 1 + (r() % 4);
    for (let j = 0; j < k; j++) f[r() % f.length] = r() & 0xff;
    if (r() % 3 === 0) f[12 + (r() % 2)] = [0x08, 0x81, 0x88, 0x00][r() % 4];
    out.push(f.slice(0, 14 + (r() % (f.length - 13))));
  }
  return out;
}

/** The verdict the JS hook acts on: anything but 0..4 counts as XDP_ABORTED (0). */
export function jsVerdict(f: (ctx: XdpContext) => unknown, frame: Uint8Array, nowMs = 0): number {
  // The frame ends exactly where its buffer does: a read past the frame would be undefined or throw.
  const ctx = new XdpContext(frame.slice());
  ctx.set(0, frame.length, 0);
  ctx.nowMs = nowMs;
  let r: unknown;
  try {
    r = f(ctx);
  } catch {
    return -1;
  }
  return typeof r === 'number' && Number.isInteger(r) && r >= 0 && r <= 4 ? r : 0;
}

/**
 * A random filter module in the compiled subset: accessors, constants, arithmetic and bitwise
 * operators, comparisons, &&/||/?:, let variables, a bounded loop, a table, a helper.
 */
export function randomFilter(seed: number, xdpModule: string): string {
  const r = prng(seed);
  const pick = <T,>(a: readonly T[]): T => a[r() % a.length];
  const small = () => String(r() % 70);
  const leaves = [
    'ctx.ipProto()', 'ctx.l4Dport()', 'ctx.l4Sport()', 'ctx.tcpFlags()', 'ctx.ethType()', 'ctx.vlanId()', 'ctx.ipTtl()',
    'ctx.ipSrc()', 'ctx.ipDst()', 'ctx.l3Offset()', 'ctx.l4Offset()', `ctx.u8At(${small()})`, `ctx.u16At(${small()})`,
    `ctx.u32At(${small()})`, 'T[x & 7]', 'h(ctx.u8At(23))',
  ];
  let declared = false;
  const consts = ['0', '1', '6', '17', '53', '0x0800', '-1', '255', '0xffff', '1000', '0x7fffffff'];
  const leaf = () => (r() % 3 === 0 ? pick(consts) : declared && r() % 4 === 0 ? pick(['a', 'b']) : pick(leaves));
  const expr = (d: number): string => {
    if (d === 0) return leaf();
    switch (r() % 11) {
      case 0:
        return `(${expr(d - 1)} + ${expr(d - 1)})`;
      case 1:
        return `(${expr(d - 1)} - ${leaf()})`;
      case 2:
        return `(${expr(d - 1)} & ${pick(['0xff', '0xffff', '7', '-1', '0x80000000'])})`;
      case 3:
        return `(${expr(d - 1)} ${pick(['|', '^'])} ${expr(d - 1)})`;
      case 4:
        return `(${expr(d - 1)} ${pick(['>>', '>>>', '<<'])} ${r() % 33})`;
      case 5:
        return `Math.imul(${expr(d - 1)}, ${pick(['0x9e3779b1', '3', expr(0)])})`;
      case 6:
        return `(${cond(d - 1)} ? ${expr(d - 1)} : ${expr(d - 1)})`;
      case 7:
        return `((${expr(d - 1)} >>> 0) % ${1 + (r() % 100)})`;
      case 8:
        return `(${leaf()} * ${pick(['2', '3', '-5', '1000'])})`;
      case 9:
        return `~${expr(d - 1)}`;
      default:
        return `Math.${pick(['min', 'max'])}(${expr(d - 1)}, ${expr(d - 1)})`;
    }
  };
  // Conditions a frame decides either way: fields against values the corpus carries.
  const likely = () =>
    pick([
      'ctx.ipProto() === 17', 'ctx.ipProto() === 6', 'ctx.l4Dport() === 53', 'ctx.l4Dport() < 1024', 'ctx.vlanId() >= 0',
      '(ctx.tcpFlags() & 0x12) === 0x02', 'ctx.ethType() === 0x0800', 'ctx.l4Offset() > 34', 'ctx.u8At(14) === 0x45', '(ctx.ipSrc() >>> 24) === 192',
    ]);
  const cond = (d: number): string => {
    if (d === 0 || r() % 3 === 0) return likely();
    switch (r() % 4) {
      case 0:
        return `${expr(d)} ${pick(['===', '!==', '<', '<=', '>', '>='])} ${expr(d)}`;
      case 1:
        return `(${cond(d - 1)} && ${cond(d - 1)})`;
      case 2:
        return `(${cond(d - 1)} || ${cond(d - 1)})`;
      default:
        return `!(${expr(d)} ${pick(['===', '<'])} ${pick(consts)})`;
    }
  };
  const verdict = () => (r() % 4 === 0 ? `(${expr(1)}) & 7` : pick(['XDP_PASS', 'XDP_DROP', 'XDP_TX', 'XDP_ABORTED']));
  const table = Array.from({ length: 8 }, () => r() % 300).join(', ');
  const n = 2 + (r() % 5);
  const head = [
    `import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, type XdpContext } from '${xdpModule}';`,
    `const T = [${table}];`,
    `const LIMIT = ${n};`,
    `function h(v: number): number {`,
    `  if (v < 0) return 0;`,
    `  return (v & 0x0f) + 1;`,
    `}`,
    `export default (ctx: XdpContext): number => {`,
    `  const x = ctx.u8At(${small()}) & 0xff;`,
    `  let a = ${expr(1)} & 0xffff;`,
    `  let b = 0;`,
  ];
  declared = true;
  const lines = [
    ...head,
    `  for (let i = 0; i < LIMIT; i++) {`,
    `    if (${cond(1)}) b = (b + ctx.u8At(i + ${r() % 40})) & 0xffff;`,
    `    if (b > ${r() % 500}) break;`,
    `  }`,
    `  if (${cond(2)}) a = (a ^ ${expr(1)}) & 0xfffff;`,
    `  if (${cond(2)}) return ${verdict()};`,
    `  if (${cond(1)}) return ${verdict()};`,
    `  return ${verdict()};`,
    `};`,
  ];
  return lines.join('\n') + '\n';
}

// The offload scenario's own table: what each program costs per frame on the CPU, without the
// lab: BPF_PROG_TEST_RUN with repeat over the flood's ten frames (60 B: the generator's
// Ethernet/IPv4/UDP frame, source ports 1024..1033), the kernel's average ns per run. The two
// programs alternate, rounds in the same run; the figure is the median round.
import { compileFilter, loadFilter } from '../bpf/compile.ts';
import { bpfAddon } from '../bpf/sys.ts';
import { BpfObjProgram } from './bpf-obj.ts';
import type { ScenarioTable } from './types.ts';

const ROUNDS = 5;
const REPEAT = 100_000;

function floodFrames(flows: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = 0; f < flows; f++) {
    const b = new Uint8Array(60);
    const dv = new DataView(b.buffer);
    dv.setUint16(12, 0x0800);
    b[14] = 0x45;
    dv.setUint16(16, 46);
    b[22] = 64;
    b[23] = 17;
    b.set([10, 1, 0, 2, 10, 2, 0, 2], 26);
    dv.setUint16(34, 1024 + f);
    dv.setUint16(36, 9);
    dv.setUint16(38, 26);
    out.push(b);
  }
  return out;
}

/** ns per frame of each program over the flood's frames, and their verdicts (must agree). */
export function programCost(module: string, obj: string, flows: number): ScenarioTable {
  const k = loadFilter(compileFilter(module), { attach: true });
  const c = new BpfObjProgram(obj);
  const a = bpfAddon();
  const frames = floodFrames(flows);
  const progs = [
    { name: 'softnet-offload', fd: k.prog, insns: k.compiled.insns.length, ns: [] as number[], verdicts: '' },
    { name: 'c-clang', fd: c.prog, insns: c.count, ns: [] as number[], verdicts: '' },
  ];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of r % 2 === 0 ? progs : [...progs].reverse()) {
        let sum = 0;
        const v: number[] = [];
        for (const f of frames) {
          const res = a.bpfProgTestRun({ fd: p.fd, data: f, repeat: REPEAT });
          sum += res.duration;
          v.push(res.retval);
        }
        p.ns.push(sum / frames.length);
        p.verdicts = v.join('');
      }
    }
  } finally {
    k.close();
    c.close();
  }
  const med = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const base = med(progs[1].ns);
  return {
    scenario: 'offload',
    title: 'program cost per frame (BPF_PROG_TEST_RUN, repeat, no device)',
    head: ['program', 'instructions', 'ns/frame (median of rounds)', 'vs c-clang (speed)', 'verdicts (sport 1024..)'],
    rows: progs.map((p) => [p.name, String(p.insns), med(p.ns).toFixed(1), `${(base / med(p.ns)).toFixed(2)}×`, p.verdicts]),
    notes: [`${ROUNDS} rounds alternating, ${REPEAT} runs per frame, ${flows} frames; the kernel's test-run loop around each run is included for both; 2 = PASS (redirect to an empty XSKMAP falls back to PASS), 1 = DROP`],
    data: progs.map((p) => ({ name: p.name, insns: p.insns, ns: p.ns, verdicts: p.verdicts })),
  };
}

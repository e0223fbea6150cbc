// The compiler's entry: a filter module's source -> eBPF (lower.ts -> ir.ts -> emit.ts), and
// loading the result: the read-only data map of its tables, BPF_PROG_LOAD with the verifier's
// refusal mapped back to the source line, BPF_PROG_TEST_RUN of frames.
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { XdpMap, type MapBackend } from '../core/xdp-map.ts';
import type { XdpVerdicts } from '../core/xdp.ts';
import type { XdpProgramFds } from '../driver/native.ts';
import { CLOCK_MAP, emit, STATS_MAP, XSK_MAP, type EmitOptions } from './emit.ts';
import { KernelMapBackend, possibleCpus } from './kernel-map.ts';
import { disasm, encode, type Insn } from './insn.ts';
import { formatIr, type IrProgram, type Loc } from './ir.ts';
import { Lowerer } from './lower.ts';
import { BPF_F_RDONLY_PROG, closeFd, mapCreate, mapFreeze, mapLookup, mapUpdate, progLoad, testRun } from './sys.ts';
import { verifierError } from './verifier-log.ts';

export interface CompiledFilter {
  file: string;
  ir: IrProgram;
  /** Instructions before relocation (map fds are patched in at load). */
  insns: Insn[];
  srcmap: Loc[];
  rodataRelocs: number[];
  rodataSize: number;
  mapRelocs: Array<{ pc: number; map: number }>;
  /** Milliseconds the compile took (parse, lower, emit). */
  ms: number;
  /** The program as `bpftool prog dump xlated` would show it, each source line before its code. */
  dump(): string;
}

/** Compile a filter module's text. Throws BpfCompileError (file:line:col, what, what to do). */
export function compileFilterSource(file: string, text: string): CompiledFilter {
  const t0 = performance.now();
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const ir = new Lowerer(file, sf).lowerModule();
  const e = emit(ir);
  const ms = performance.now() - t0;
  const lines = text.split('\n');
  return {
    file,
    ir,
    insns: e.insns,
    srcmap: e.srcmap,
    rodataRelocs: e.rodataRelocs,
    rodataSize: e.rodataSize,
    mapRelocs: e.mapRelocs,
    ms,
    dump() {
      const out: string[] = [];
      const code = disasm(e.insns);
      let last = -1;
      for (const l of code) {
        const pc = Number(l.slice(0, 4));
        const loc = e.srcmap[pc];
        if (loc.line !== last) {
          out.push(`; ${(lines[loc.line - 1] ?? '').trim()}    [${file.split('/').pop()}:${loc.line}]`);
          last = loc.line;
        }
        out.push(l);
      }
      return out.join('\n');
    },
  };
}

export function compileFilter(path: string): CompiledFilter {
  return compileFilterSource(path, readFileSync(path, 'utf8'));
}

export { formatIr };

/** The XSKMAP's size: room for every queue of big NICs (as native/bpf.cc's). */
const XSK_ENTRIES = 512;

/** A compiled filter loaded into the kernel: the program, its tables' map, its maps, the verdict counters. */
export class LoadedFilter {
  private readonly outBuf = new Uint8Array(4096);
  private readonly key = new Uint8Array(4);
  private readonly clockVal = new Uint8Array(8);
  private closed = false;

  constructor(
    readonly prog: number,
    readonly rodata: number,
    readonly compiled: CompiledFilter,
    /** The per-CPU verdict counters, the XSKMAP, the test clock (-1 unless clock: 'map'). */
    readonly stats: number,
    readonly xskmap: number,
    readonly clock: number,
    /** The module's maps (defineMap), in declaration order, now reading and writing the kernel's. */
    readonly maps: XdpMap[],
    readonly mapFds: number[],
    /** What each map was backed by before (given back at close, with the kernel map's contents). */
    private readonly before: MapBackend[],
  ) {}

  /** BPF_PROG_TEST_RUN over one frame (>= 14 bytes): the verdict. */
  run(frame: Uint8Array): number {
    return testRun(this.prog, frame, this.outBuf).retval;
  }

  /** For programs loaded with clock: 'map': the milliseconds ctx.nowMs reads. */
  setClock(ms: number): void {
    new DataView(this.clockVal.buffer).setBigUint64(0, BigInt(ms), true);
    mapUpdate(this.clock, this.key, this.clockVal);
  }

  /** The program's verdict counters, summed over CPUs (`softnet stat`: xdp_pass, xdp_drop...). */
  verdicts(): XdpVerdicts {
    const n = possibleCpus();
    const v = new Uint8Array(8 * n);
    const dv = new DataView(v.buffer);
    const c = [0, 0, 0, 0, 0];
    for (let k = 0; k < 5; k++) {
      new DataView(this.key.buffer).setUint32(0, k, true);
      if (!mapLookup(this.stats, this.key, v)) continue;
      for (let i = 0; i < n; i++) c[k] += Number(dv.getBigUint64(8 * i, true));
    }
    return { aborted: c[0], drop: c[1], pass: c[2], tx: c[3], redirect: c[4] };
  }

  /** What native xskAttach links instead of the redirect program. */
  programFds(): XdpProgramFds {
    return { prog: this.prog, xskmap: this.xskmap, maxEntries: XSK_ENTRIES };
  }

  /** Close the fds (a link keeps the program running until it goes); the maps go back to JS with their contents. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.maps.forEach((m, i) => m.bind(this.before[i]));
    for (const fd of [this.prog, this.rodata, this.stats, this.xskmap, this.clock, ...this.mapFds]) closeFd(fd);
  }
}

export interface LoadOptions extends EmitOptions {
  /** For bpf_link on a device (expected_attach_type BPF_XDP); else for BPF_PROG_TEST_RUN only. */
  attach?: boolean;
  name?: string;
  /**
   * The module's map objects (defineMap, in declaration order): bound to the kernel's maps,
   * their contents copied in. Absent: fresh maps the LoadedFilter exposes.
   */
  maps?: XdpMap[];
}

/**
 * Load a compiled filter. `attach`: for bpf_link on a device (expected_attach_type BPF_XDP);
 * otherwise for BPF_PROG_TEST_RUN only. Throws BpfVerifierError when the verifier refuses it.
 */
export function loadFilter(c: CompiledFilter, opts: LoadOptions = {}): LoadedFilter {
  let rodata = -1;
  const e = opts.clock === 'map' ? emit(c.ir, opts) : { insns: c.insns, mapRelocs: c.mapRelocs, srcmap: c.srcmap, rodataRelocs: c.rodataRelocs };
  const insns = e.insns.map((i) => ({ ...i }));
  const defs = c.ir.maps;
  const objs = opts.maps ?? defs.map((d) => new XdpMap(d.spec));
  if (objs.length !== defs.length || objs.some((m, i) => JSON.stringify(m.spec) !== JSON.stringify(defs[i].spec)))
    throw new Error(`${c.file}: the module made ${objs.length} maps (${objs.map((m) => m.spec.type).join(', ')}), the compiler found ${defs.length} module-level defineMap consts (${defs.map((d) => d.name).join(', ')}): make every defineMap a module-level const`);
  const fds: number[] = [];
  const stats = mapCreate('percpu_array', 4, 8, 5, 'softnet_verdict');
  const xskmap = mapCreate('xskmap', 4, 4, XSK_ENTRIES, 'softnet_xsks');
  const clock = opts.clock === 'map' ? mapCreate('array', 4, 8, 1, 'softnet_clock') : -1;
  const before: MapBackend[] = [];
  try {
    defs.forEach((d) => fds.push(mapCreate(d.spec.type, d.keySize, d.valueSize, d.spec.maxEntries, d.name)));
  } catch (err) {
    for (const fd of [stats, xskmap, clock, ...fds]) closeFd(fd);
    throw err;
  }
  for (const r of e.mapRelocs) insns[r.pc].imm = r.map === STATS_MAP ? stats : r.map === XSK_MAP ? xskmap : r.map === CLOCK_MAP ? clock : fds[r.map];
  if (c.rodataSize > 0) {
    rodata = mapCreate('array', 4, c.rodataSize, 1, 'softnet_rodata', BPF_F_RDONLY_PROG);
    const value = new Uint8Array(c.rodataSize);
    const dv = new DataView(value.buffer);
    for (const t of c.ir.tables)
      t.values.forEach((v, i) => {
        const at = t.offset + i * t.size;
        if (t.size === 1) dv.setUint8(at, Number(BigInt.asUintN(8, v)));
        else if (t.size === 2) dv.setUint16(at, Number(BigInt.asUintN(16, v)), true);
        else if (t.size === 4) dv.setUint32(at, Number(BigInt.asUintN(32, v)), true);
        else dv.setBigUint64(at, BigInt.asUintN(64, v), true);
      });
    mapUpdate(rodata, new Uint8Array(4), value);
    mapFreeze(rodata);
    for (const pc of e.rodataRelocs) insns[pc].imm = rodata;
  }
  const r = progLoad(encode(insns), opts.name ?? 'softnet_filter', opts.attach === true);
  if (!('fd' in r)) {
    for (const fd of [rodata, stats, xskmap, clock, ...fds]) closeFd(fd);
    throw verifierError(c.file, e.srcmap, r.log, r.errno);
  }
  objs.forEach((m, i) => before.push(m.bind(new KernelMapBackend(fds[i], m.spec, m.fields, m.valueSize))));
  return new LoadedFilter(r.fd, rodata, c, stats, xskmap, clock, objs, fds, before);
}

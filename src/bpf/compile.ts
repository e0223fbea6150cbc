// The compiler's entry: a filter module's source -> eBPF (lower.ts -> ir.ts -> emit.ts), and
// loading the result: the read-only data map of its tables, BPF_PROG_LOAD with the verifier's
// refusal mapped back to the source line, BPF_PROG_TEST_RUN of frames.
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { emit } from './emit.ts';
import { disasm, encode, type Insn } from './insn.ts';
import { formatIr, type IrProgram, type Loc } from './ir.ts';
import { Lowerer } from './lower.ts';
import { BPF_F_RDONLY_PROG, closeFd, mapCreate, mapFreeze, mapUpdate, progLoad, testRun } from './sys.ts';
import { verifierError } from './verifier-log.ts';

export interface CompiledFilter {
  file: string;
  ir: IrProgram;
  /** Instructions before relocation (map fds are patched in at load). */
  insns: Insn[];
  srcmap: Loc[];
  rodataRelocs: number[];
  rodataSize: number;
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

/** A compiled filter loaded into the kernel: the program fd and its tables' map. */
export class LoadedFilter {
  private readonly outBuf = new Uint8Array(4096);
  constructor(
    readonly prog: number,
    readonly rodata: number,
    readonly compiled: CompiledFilter,
  ) {}

  /** BPF_PROG_TEST_RUN over one frame (>= 14 bytes): the verdict. */
  run(frame: Uint8Array): number {
    return testRun(this.prog, frame, this.outBuf).retval;
  }

  close(): void {
    closeFd(this.prog);
    closeFd(this.rodata);
  }
}

/**
 * Load a compiled filter. `attach`: for bpf_link on a device (expected_attach_type BPF_XDP);
 * otherwise for BPF_PROG_TEST_RUN only. Throws BpfVerifierError when the verifier refuses it.
 */
export function loadFilter(c: CompiledFilter, opts: { attach?: boolean; name?: string } = {}): LoadedFilter {
  let rodata = -1;
  const insns = c.insns.map((i) => ({ ...i }));
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
    for (const pc of c.rodataRelocs) insns[pc].imm = rodata;
  }
  const r = progLoad(encode(insns), opts.name ?? 'softnet_filter', opts.attach === true);
  if ('fd' in r) return new LoadedFilter(r.fd, rodata, c);
  closeFd(rodata);
  throw verifierError(c.file, c.srcmap, r.log, r.errno);
}

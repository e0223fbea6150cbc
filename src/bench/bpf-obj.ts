// The offload scenario's C baseline loaded without libbpf: a clang -target bpf object (ELF64,
// little endian) read far enough to take one program section, bind its map relocations
// (R_BPF_64_64 on an ld_imm64, by symbol name) to map fds made here, and load it with softnet's
// own BPF_PROG_LOAD (src/bpf/sys.ts, native/prog.cc). Control plane, bench only.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { possibleCpus } from '../bpf/kernel-map.ts';
import { closeFd, mapCreate, mapLookup, progLoad } from '../bpf/sys.ts';
import type { XdpProgramFds } from '../driver/native.ts';
import { binDir, packageRoot } from './package.ts';

const SHT_SYMTAB = 2;
const SHT_REL = 9;
const BPF_PSEUDO_MAP_FD = 1;
const LD_IMM64 = 0x18;

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

/** Build bench/c/NAME.c with clang -O2 -target bpf into NAME.o (when missing or older than its source). */
export function buildBpfObj(name: string): string {
  const root = packageRoot();
  const src = path.join(root, 'bench/c', `${name}.c`);
  const obj = path.join(binDir(), `${name}.o`);
  if (existsSync(obj) && statSync(obj).mtimeMs >= statSync(src).mtimeMs) return obj;
  // <asm/types.h> lives under the multiarch include directory, which clang -target bpf does not search.
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  try {
    execFileSync('clang', ['-O2', '-g0', '-Wall', '-target', 'bpf', `-I/usr/include/${arch}-linux-gnu`, '-c', src, '-o', obj], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`clang -target bpf ${path.relative(root, src)} failed: ${(err.stderr || err.message).split('\n').slice(0, 3).join(' | ')} (needs clang: bash scripts/deps.sh)`);
  }
  return obj;
}

/** The instructions of section `sec` with each map relocation's symbol name at its pc. */
export function readBpfObj(file: string, sec: string): { insns: Uint8Array; relocs: Array<{ pc: number; sym: string }> } {
  const b = readFileSync(file);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF object`);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const raw: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({ name: String(dv.getUint32(o, true)), type: dv.getUint32(o + 4, true), offset: Number(dv.getBigUint64(o + 24, true)), size: Number(dv.getBigUint64(o + 32, true)), link: dv.getUint32(o + 40, true), info: dv.getUint32(o + 44, true) });
  }
  const str = (s: Section, at: number) => {
    const start = s.offset + at;
    return b.toString('latin1', start, b.indexOf(0, start));
  };
  for (const s of raw) s.name = str(raw[shstrndx], Number(s.name));
  const idx = raw.findIndex((s) => s.name === sec);
  if (idx < 0) throw new Error(`${file}: no section '${sec}' (sections: ${raw.map((s) => s.name).filter(Boolean).join(', ')})`);
  const insns = new Uint8Array(b.subarray(raw[idx].offset, raw[idx].offset + raw[idx].size));
  const relocs: Array<{ pc: number; sym: string }> = [];
  const rel = raw.find((s) => s.type === SHT_REL && s.info === idx);
  if (rel) {
    const symtab = raw[rel.link];
    if (symtab.type !== SHT_SYMTAB) throw new Error(`${file}: relocations of '${sec}' without a symbol table`);
    const strtab = raw[symtab.link];
    for (let o = rel.offset; o < rel.offset + rel.size; o += 16) {
      const off = Number(dv.getBigUint64(o, true));
      const symi = Number(dv.getBigUint64(o + 8, true) >> 32n);
      relocs.push({ pc: off / 8, sym: str(strtab, dv.getUint32(symtab.offset + symi * 24, true)) });
    }
  }
  return { insns, relocs };
}

/** A clang-built XDP program with the verdict counters and XSKMAP of src/bpf's compiled filters. */
export class BpfObjProgram {
  readonly verdicts: number;
  readonly xsks: number;
  readonly prog: number;
  readonly count: number;

  constructor(file: string, sec = 'xdp') {
    const { insns, relocs } = readBpfObj(file, sec);
    this.count = insns.length / 8;
    this.verdicts = mapCreate('percpu_array', 4, 8, 5, 'c_verdict');
    this.xsks = mapCreate('xskmap', 4, 4, 512, 'c_xsks');
    const fds: Record<string, number> = { verdicts: this.verdicts, xsks: this.xsks };
    for (const r of relocs) {
      const fd = fds[r.sym];
      const at = r.pc * 8;
      if (fd === undefined || insns[at] !== LD_IMM64) throw new Error(`${file}: relocation at ${r.pc} to '${r.sym}': only ld_imm64 of the maps verdicts, xsks is supported`);
      insns[at + 1] = (insns[at + 1] & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
      new DataView(insns.buffer).setInt32(at + 4, fd, true);
    }
    const r = progLoad(insns, `c_${sec}`, true);
    if (!('fd' in r)) {
      closeFd(this.verdicts);
      closeFd(this.xsks);
      throw new Error(`${file}: the verifier refused it (${r.errno}): ${r.log.split('\n').slice(-4).join(' | ')}`);
    }
    this.prog = r.fd;
  }

  programFds(): XdpProgramFds {
    return { prog: this.prog, xskmap: this.xsks, maxEntries: 512 };
  }

  /** Verdict counts summed over CPUs, [aborted, drop, pass, tx, redirect]. */
  counts(): number[] {
    const n = possibleCpus();
    const v = new Uint8Array(8 * n);
    const dv = new DataView(v.buffer);
    const key = new Uint8Array(4);
    const c = [0, 0, 0, 0, 0];
    for (let k = 0; k < 5; k++) {
      key[0] = k;
      if (!mapLookup(this.verdicts, key, v)) continue;
      for (let i = 0; i < n; i++) c[k] += Number(dv.getBigUint64(8 * i, true));
    }
    return c;
  }

  close(): void {
    for (const fd of [this.prog, this.verdicts, this.xsks]) closeFd(fd);
  }
}

// eBPF instructions (include/uapi/linux/bpf.h, Documentation/bpf/standardization/instruction-set.rst):
// the opcodes softnet's emitter uses, their 8-byte encoding, and a disassembler in the notation
// of the kernel's verifier log and `bpftool prog dump xlated` (`r1 = *(u16 *)(r2 +12)`).

// Classes
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;
// Sizes and modes
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;
// Sources
export const BPF_K = 0x00;
export const BPF_X = 0x08;
// ALU ops
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;
export const BPF_TO_BE = 0x08;
// Jumps
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

/** src_reg of a 2-slot ld_imm64 whose imm is a map fd, and a map fd + value offset (direct access). */
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;

/** Helper ids (enum bpf_func_id). */
export const BPF_FUNC_map_lookup_elem = 1;
export const BPF_FUNC_map_update_elem = 2;
export const BPF_FUNC_map_delete_elem = 3;
export const BPF_FUNC_ktime_get_ns = 5;
export const BPF_FUNC_redirect_map = 51;
export const BPF_FUNC_xdp_get_buff_len = 188;

/** struct xdp_md field offsets. */
export const XDP_MD_DATA = 0;
export const XDP_MD_DATA_END = 4;
export const XDP_MD_RX_QUEUE_INDEX = 16;

export const R0 = 0;
export const R1 = 1;
export const R2 = 2;
export const R3 = 3;
export const R4 = 4;
export const R6 = 6;
export const R7 = 7;
export const R8 = 8;
export const R9 = 9;
export const R10 = 10;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** The 8-byte little-endian encoding the kernel reads (struct bpf_insn). */
export function encode(p: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(p.length * 8);
  const dv = new DataView(out.buffer);
  p.forEach((i, k) => {
    dv.setUint8(k * 8, i.code);
    dv.setUint8(k * 8 + 1, (i.src << 4) | (i.dst & 0x0f));
    dv.setInt16(k * 8 + 2, i.off, true);
    dv.setInt32(k * 8 + 4, i.imm | 0, true);
  });
  return out;
}

const ALU_SYM: Record<number, string> = {
  [BPF_ADD]: '+=', [BPF_SUB]: '-=', [BPF_MUL]: '*=', [BPF_DIV]: '/=', [BPF_OR]: '|=', [BPF_AND]: '&=',
  [BPF_LSH]: '<<=', [BPF_RSH]: '>>=', [BPF_MOD]: '%=', [BPF_XOR]: '^=', [BPF_MOV]: '=', [BPF_ARSH]: 's>>=',
};
const JMP_SYM: Record<number, string> = {
  [BPF_JEQ]: '==', [BPF_JGT]: '>', [BPF_JGE]: '>=', [BPF_JSET]: '&', [BPF_JNE]: '!=', [BPF_JSGT]: 's>',
  [BPF_JSGE]: 's>=', [BPF_JLT]: '<', [BPF_JLE]: '<=', [BPF_JSLT]: 's<', [BPF_JSLE]: 's<=',
};
const SIZE: Record<number, string> = { [BPF_W]: 'u32', [BPF_H]: 'u16', [BPF_B]: 'u8', [BPF_DW]: 'u64' };
const HELPER: Record<number, string> = {
  [BPF_FUNC_map_lookup_elem]: 'bpf_map_lookup_elem',
  [BPF_FUNC_map_update_elem]: 'bpf_map_update_elem',
  [BPF_FUNC_map_delete_elem]: 'bpf_map_delete_elem',
  [BPF_FUNC_ktime_get_ns]: 'bpf_ktime_get_ns',
  [BPF_FUNC_redirect_map]: 'bpf_redirect_map',
  [BPF_FUNC_xdp_get_buff_len]: 'bpf_xdp_get_buff_len',
};

const sgn = (n: number) => (n < 0 ? `-${-n}` : `+${n}`);

/** One instruction as the verifier log prints it; `next` is the second slot of an ld_imm64. */
export function disasm1(i: Insn, pc: number, next?: Insn): string {
  const cls = i.code & 0x07;
  const op = i.code & 0xf0;
  const r = (n: number, w = false) => `${w ? 'w' : 'r'}${n}`;
  if (cls === BPF_ALU64 || cls === BPF_ALU) {
    const w = cls === BPF_ALU;
    if (op === BPF_NEG) return `${r(i.dst, w)} = -${r(i.dst, w)}`;
    if (op === BPF_END) return `${r(i.dst)} = be${i.imm} ${r(i.dst)}`;
    const rhs = (i.code & BPF_X) !== 0 ? r(i.src, w) : String(i.imm);
    return `${r(i.dst, w)} ${ALU_SYM[op] ?? `?${op}`} ${rhs}`;
  }
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    if (op === BPF_EXIT) return 'exit';
    if (op === BPF_CALL) return `call ${HELPER[i.imm] ?? `#${i.imm}`}#${i.imm}`;
    if (op === BPF_JA) return `goto pc${sgn(i.off)}`;
    const rhs = (i.code & BPF_X) !== 0 ? r(i.src) : String(i.imm);
    return `if ${r(i.dst)} ${JMP_SYM[op] ?? '?'} ${rhs} goto pc${sgn(i.off)}`;
  }
  if (cls === BPF_LDX) return `${r(i.dst)} = *(${SIZE[i.code & 0x18]} *)(${r(i.src)} ${sgn(i.off)})`;
  if (cls === BPF_STX) return `*(${SIZE[i.code & 0x18]} *)(${r(i.dst)} ${sgn(i.off)}) = ${r(i.src)}`;
  if (cls === BPF_ST) return `*(${SIZE[i.code & 0x18]} *)(${r(i.dst)} ${sgn(i.off)}) = ${i.imm}`;
  if (cls === BPF_LD && i.code === (BPF_LD | BPF_DW | BPF_IMM)) {
    const hi = next?.imm ?? 0;
    if (i.src === BPF_PSEUDO_MAP_FD) return `${r(i.dst)} = map[fd:${i.imm}]`;
    if (i.src === BPF_PSEUDO_MAP_VALUE) return `${r(i.dst)} = map[fd:${i.imm}][0]+${hi}`;
    const v = (BigInt(hi) << 32n) | BigInt(i.imm >>> 0);
    return `${r(i.dst)} = ${BigInt.asIntN(64, v)} ll`;
  }
  return `(${i.code.toString(16)}) ?`;
}

/** The program, one line per instruction: `pc: (code) text`, like the verifier log. */
export function disasm(p: readonly Insn[]): string[] {
  const out: string[] = [];
  for (let pc = 0; pc < p.length; pc++) {
    const i = p[pc];
    const wide = i.code === (BPF_LD | BPF_DW | BPF_IMM);
    out.push(`${String(pc).padStart(4)}: (${i.code.toString(16).padStart(2, '0')}) ${disasm1(i, pc, wide ? p[pc + 1] : undefined)}`);
    if (wide) pc++;
  }
  return out;
}

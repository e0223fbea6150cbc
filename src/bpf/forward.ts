// After emit: store-to-load forwarding on the emitted code. The emitter keeps every value in its
// stack slot and reloads it for each use (no register allocation yet); within straight-line code
// a register that was just stored to, or loaded from, a slot still holds it, so a reload of that
// slot into that register is deleted. Knowledge is dropped at every jump target, after a call
// (r0-r5 clobbered), when the register is written, and when anything is stored over the slot.
// Then stores overwritten before any read are deleted. Jump offsets, the source map and the relocation indexes are renumbered.
import { BPF_ALU, BPF_ALU64, BPF_CALL, BPF_DW, BPF_EXIT, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LD, BPF_LDX, BPF_MEM, BPF_ST, BPF_STX, R10, type Insn } from './insn.ts';
import type { Loc } from './ir.ts';

const LD_IMM64 = BPF_LD | BPF_DW | BPF_IMM;
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** The condition that holds exactly when this one does not (JSET has none). */
const INVERSE: Record<number, number> = {
  [BPF_JEQ]: BPF_JNE, [BPF_JNE]: BPF_JEQ, [BPF_JGT]: BPF_JLE, [BPF_JLE]: BPF_JGT, [BPF_JGE]: BPF_JLT, [BPF_JLT]: BPF_JGE,
  [BPF_JSGT]: BPF_JSLE, [BPF_JSLE]: BPF_JSGT, [BPF_JSGE]: BPF_JSLT, [BPF_JSLT]: BPF_JSGE,
};

const isJump = (i: Insn) => {
  const cls = i.code & 0x07;
  const op = i.code & 0xf0;
  return (cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_CALL && op !== BPF_EXIT;
};

export interface Forwarded {
  insns: Insn[];
  srcmap: Loc[];
  rodataRelocs: number[];
  mapRelocs: Array<{ pc: number; map: number }>;
}

export function forwardLoads(insns: Insn[], srcmap: Loc[], rodataRelocs: number[], mapRelocs: Array<{ pc: number; map: number }>): Forwarded {
  const n = insns.length;
  insns = insns.map((i) => ({ ...i }));
  const second = new Uint8Array(n); // the second slot of an ld_imm64
  const target = new Uint8Array(n + 1);
  const keep = new Uint8Array(n).fill(1);
  for (let pc = 0; pc < n; pc++) {
    if (second[pc]) continue;
    const i = insns[pc];
    if (i.code === LD_IMM64) second[pc + 1] = 1;
    else if (isJump(i)) target[pc + i.off + 1] = 1;
  }
  // `if c goto +1; goto T` (the lowering's shape for `if (c) return`): `if !c goto T`, one
  // instruction less on the path taken when the condition is false.
  for (let pc = 0; pc + 1 < n; pc++) {
    const i = insns[pc];
    const j = insns[pc + 1];
    const inv = INVERSE[i.code & 0xf0];
    if (second[pc] || !isJump(i) || (i.code & 0xf0) === BPF_JA || inv === undefined || i.off !== 1 || j.code !== (BPF_JMP | BPF_JA) || target[pc + 1]) continue;
    i.code = (i.code & 0x0f) | inv;
    i.off = j.off + 1;
    keep[pc + 1] = 0;
  }
  target.fill(0);
  for (let pc = 0; pc < n; pc++) if (!second[pc] && keep[pc] && isJump(insns[pc])) target[pc + insns[pc].off + 1] = 1;
  // holds[r] = the stack offset whose 8 bytes register r equals, or 1 (none: offsets are negative).
  const holds = new Int32Array(11).fill(1);
  const forgetReg = (r: number) => (holds[r] = 1);
  const forgetSlots = (off: number, size: number) => {
    for (let r = 0; r < 11; r++) if (holds[r] !== 1 && holds[r] < off + size && off < holds[r] + 8) holds[r] = 1;
  };
  for (let pc = 0; pc < n; pc++) {
    if (second[pc] || !keep[pc]) continue;
    if (target[pc]) holds.fill(1);
    const i = insns[pc];
    const cls = i.code & 0x07;
    const op = i.code & 0xf0;
    if (cls === BPF_LDX) {
      if (i.code === (BPF_LDX | BPF_MEM | BPF_DW) && i.src === R10) {
        if (holds[i.dst] === i.off) {
          keep[pc] = 0;
          continue;
        }
        forgetReg(i.dst);
        holds[i.dst] = i.off;
      } else forgetReg(i.dst);
    } else if (cls === BPF_STX || cls === BPF_ST) {
      if (i.dst === R10) {
        forgetSlots(i.off, SIZE_BYTES[i.code & 0x18]);
        if (i.code === (BPF_STX | BPF_MEM | BPF_DW)) {
          forgetReg(i.src);
          holds[i.src] = i.off;
        }
      }
    } else if (cls === BPF_ALU || cls === BPF_ALU64 || i.code === LD_IMM64) {
      forgetReg(i.dst);
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      // A call clobbers r0-r5 (and a helper may write memory it was given); after goto/exit only
      // jumps reach the next instruction.
      if (op === BPF_CALL || op === BPF_EXIT || op === BPF_JA) holds.fill(1);
    } else holds.fill(1);
  }
  // Dead stores: a slot stored again before anything could read it (no load of it, jump, jump
  // target, call or r10-derived pointer in between) did not need the first store.
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc];
    if (second[pc] || !keep[pc] || (i.code !== (BPF_STX | BPF_MEM | BPF_DW) && i.code !== (BPF_ST | BPF_MEM | BPF_DW)) || i.dst !== R10) continue;
    for (let q = pc + 1; q < n; q++) {
      if (!keep[q]) continue;
      const j = insns[q];
      const cls = j.code & 0x07;
      if (target[q] || second[q] || cls === BPF_JMP || cls === BPF_JMP32 || j.src === R10 && cls !== BPF_STX) break;
      if ((cls === BPF_STX || cls === BPF_ST) && j.dst === R10) {
        if ((j.code & 0x18) === BPF_DW && j.off === i.off) {
          keep[pc] = 0;
          break;
        }
        continue;
      }
      if (cls === BPF_LD) break;
    }
  }
  const at = new Int32Array(n + 1);
  let k = 0;
  for (let pc = 0; pc < n; pc++) {
    at[pc] = k;
    if (keep[pc]) k++;
  }
  at[n] = k;
  const out: Insn[] = [];
  const map: Loc[] = [];
  for (let pc = 0; pc < n; pc++) {
    if (!keep[pc]) continue;
    const i = { ...insns[pc] };
    if (!second[pc] && isJump(i)) i.off = at[pc + i.off + 1] - at[pc] - 1;
    out.push(i);
    map.push(srcmap[pc]);
  }
  return { insns: out, srcmap: map, rodataRelocs: rodataRelocs.map((pc) => at[pc]), mapRelocs: mapRelocs.map((r) => ({ pc: at[r.pc], map: r.map })) };
}

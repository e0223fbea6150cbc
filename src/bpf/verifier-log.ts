// The kernel verifier's log, mapped back to the filter's source through the per-instruction
// source map: the last instruction the log walked before giving up is the one it refused.
import { BpfVerifierError } from './errors.ts';
import type { Loc } from './ir.ts';

const INSN_LINE = /^(\d+): \([0-9a-f]{2}\)/;

/** The refused instruction and the verifier's reason (the lines after it, without the statistics). */
export function parseVerifierLog(log: string): { pc: number; reason: string } {
  const lines = log.split('\n');
  let pc = -1;
  let at = -1;
  lines.forEach((l, i) => {
    const m = INSN_LINE.exec(l);
    if (m) {
      pc = Number(m[1]);
      at = i;
    }
  });
  const reason = lines
    .slice(at + 1)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('processed ') && !INSN_LINE.test(l) && !/^(from \d+ to \d+|; |R\d+=|verification time)/.test(l))
    .join('; ');
  const why = reason || lines.filter((l) => l.trim() !== '').pop() || '(empty log)';
  // Checks before the walk (the CFG: "unreachable insn 20", "jump out of range from insn 3 to 90") name the instruction in the text.
  if (pc < 0) pc = Number(/insn (\d+)/.exec(why)?.[1] ?? -1);
  return { pc, reason: why };
}

export function verifierError(file: string, srcmap: Loc[], log: string, errno: string): BpfVerifierError {
  const { pc, reason } = parseVerifierLog(log);
  const loc = srcmap[pc] ?? { line: 0, col: 0 };
  const tail = log.split('\n').slice(-40).join('\n');
  return new BpfVerifierError(file, loc.line, loc.col, pc, reason, tail, errno);
}

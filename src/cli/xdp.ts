// `softnet xdp compile FILE [--dump] [--verify]`: what src/bpf makes of a filter module, without
// a device: instruction count, maps and tables, or the refusal at file:line:col; `--dump` the
// eBPF as `bpftool prog dump xlated` shows it, each source line before its code.
import { readFileSync } from 'node:fs';
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { BpfCompileError, BpfVerifierError } from '../bpf/errors.ts';

const spec = {
  dump: { type: 'bool', help: 'print the eBPF, one instruction per line, under the TS line it came from' },
  ir: { type: 'bool', help: "print the compiler's IR (line:col of each operation)" },
  verify: { type: 'bool', help: "load it into the kernel (BPF_PROG_LOAD: the verifier's answer; needs CAP_BPF), then unload" },
} as const;

export const usage = `usage: softnet xdp compile FILE [--dump] [--ir] [--verify]

Compile an XDP filter module (export default (ctx: XdpContext) => verdict) to eBPF, as
'xdp: {module: FILE, offload: auto|kernel}' does (src/bpf/README.md: the subset). Prints the
instruction count, the maps and tables, or the refusal as FILE:LINE:COL with what to do
(exit 1). Nothing is loaded unless --verify.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  const [verb, file, ...extra] = a._;
  if (verb === undefined) throw new UsageError('missing action: compile');
  if (verb !== 'compile') throw new UsageError(`unknown action '${verb}' (expected compile)`);
  if (file === undefined) throw new UsageError('missing FILE (a filter module, .ts)');
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`softnet xdp: ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  // The compiler (TypeScript compiler API) loads only here: `softnet xdp --help` stays quick.
  const { compileFilterSource, formatIr, loadFilter } = await import('../bpf/compile.ts');
  let c;
  try {
    c = compileFilterSource(file, text);
  } catch (e) {
    if (!(e instanceof BpfCompileError)) throw e;
    process.stderr.write(`${e.message}\n${caret(text, e.line, e.col)}refused: offload: auto runs this filter in JS; offload: kernel fails\n`);
    return 1;
  }
  const out: string[] = [];
  out.push(`${file}: ${c.insns.length} insns (${c.insns.length * 8} bytes), ${c.ir.slots} stack slots, compiled in ${c.ms.toFixed(1)} ms`);
  for (const m of c.ir.maps)
    out.push(`  map ${m.name}: ${m.spec.type}  key ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.spec.maxEntries}`);
  for (const t of c.ir.tables) out.push(`  table ${t.name}: ${t.values.length} x ${t.signed ? 'i' : 'u'}${t.size * 8} (read-only data map +${t.offset})`);
  if (c.rodataSize > 0) out.push(`  rodata: ${c.rodataSize} bytes, frozen (BPF_F_RDONLY_PROG)`);
  out.push('  with: softnet_verdict percpu_array[5] (verdict counters), softnet_xsks xskmap (PASS -> the queue\'s AF_XDP socket)');
  if (a.ir) out.push('', ...formatIr(c.ir));
  if (a.dump) out.push('', c.dump());
  process.stdout.write(out.join('\n') + '\n');
  if (!a.verify) return 0;
  try {
    loadFilter(c, { attach: true }).close();
  } catch (e) {
    if (!(e instanceof BpfVerifierError)) throw e;
    process.stderr.write(`${e.message}\n${caret(text, e.line, e.col)}${e.log}\n`);
    return 1;
  }
  process.stdout.write('verifier: accepted\n');
  return 0;
}

/** The refused line with a caret under the column, like a compiler's diagnostic. */
function caret(text: string, line: number, col: number): string {
  const src = text.split('\n')[line - 1];
  if (src === undefined) return '';
  return `  ${line} | ${src}\n  ${' '.repeat(String(line).length)} | ${' '.repeat(Math.max(0, col - 1))}^\n`;
}

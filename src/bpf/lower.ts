// The lowering: a filter module's AST (TypeScript compiler API) -> IR (ir.ts), checking the
// subset as it goes (README.md says exactly what it is). It interprets the filter abstractly:
// every value carries a static range, kept per program point (cloned at branches, joined where
// paths meet, narrowed by comparisons with constants), so it can prove each integer stays within
// ±2^53 (where a 64-bit register and a JS double agree) and each table index in bounds. Loops
// have constant bounds and are unrolled; helpers are inlined; constants fold.
// This file is the context the other lower-*.ts files work in: slots, labels, the state per
// program point, the bindings; the recursion between them goes through its methods (value,
// cond, binary, body, lookup), so those files import it only as a type.
import ts from 'typescript';
import { XDP_ABORTED } from '../core/xdp-helpers.ts';
import { BpfCompileError } from './errors.ts';
import type { Cond, Ir, IrOp, IrProgram, Loc, MapDef, Opnd, Table } from './ir.ts';
import { isK } from './ir.ts';
import { MAP_SLOTS } from './maps-lower.ts';
import { emitParse, type ParseSlots } from './ctx-access.ts';
import { decide, MAX_SAFE, max, min, narrow, negate, range, type BinFn, type Range, type State } from './ranges.ts';
import { bindImport, bindModuleVars, lookup as lookupName, prepareParse, resolveFilter } from './lower-module.ts';
import { body as lowerBody } from './lower-stmt.ts';
import { binary as lowerBinary, cond as lowerCond, value as lowerValue } from './lower-expr.ts';

/** 512 B of BPF stack, 8 B a slot. */
export const MAX_SLOTS = 64;
const MAX_OPS = 200_000;

export type Ty = 'num' | 'bool';
/** A value: an operand, its type, and (for constants) nothing else; slots' ranges live in the state. */
export interface Val {
  t: Ty;
  o: Opnd;
  /** The slot is a temporary this value owns (a binding may adopt it). */
  tmp?: boolean;
}

export type Binding =
  | { kind: 'val'; v: Val; mutable: boolean }
  | { kind: 'ctx' }
  | { kind: 'table'; table: number }
  | { kind: 'fn'; decl: ts.FunctionLikeDeclaration; name: string }
  | { kind: 'map'; map: number }
  | { kind: 'defineMap' }
  | { kind: 'refuse'; what: string; hint: string; node: ts.Node };

export type Scope = Map<string, Binding>;

interface LoopCtx {
  brk: number;
  cont: number;
}
export interface FnCtx {
  /** Inlined helper: result slot and end label; null for the filter itself. */
  result: number | null;
  end: number;
  ty: Ty | null;
  loops: LoopCtx[];
  name: string;
}

export class Lowerer {
  readonly ops: Ir[] = [];
  readonly tables: Table[] = [];
  readonly maps: MapDef[] = [];
  /** The call statement being lowered (map.set() has no value: only a statement may call it). */
  stmtCall: ts.Node | null = null;
  tableBytes = 0;
  slotsUsed = 0;
  free: number[] = [];
  maxSlot = 0;
  private labelN = 0;
  /** Current state, null where the code is unreachable (after return/break/continue). */
  cur: State | null = new Map();
  private pending = new Map<number, State[]>();
  private loc: Loc = { line: 1, col: 1 };
  readonly module: Scope = new Map();
  readonly moduleDecl = new Map<string, ts.Node>();
  /** The helpers being inlined, outermost first (recursion is refused). */
  readonly inlining: string[] = [];
  fn!: FnCtx;
  parse: ParseSlots | null = null;

  constructor(
    readonly file: string,
    readonly sf: ts.SourceFile,
  ) {}

  // --- errors and positions -------------------------------------------------------------------

  fail(node: ts.Node, what: string, hint = ''): never {
    const p = this.sf.getLineAndCharacterOfPosition(node.getStart(this.sf));
    throw new BpfCompileError(this.file, p.line + 1, p.character + 1, what, hint);
  }

  at(node: ts.Node): void {
    const p = this.sf.getLineAndCharacterOfPosition(node.getStart(this.sf));
    this.loc = { line: p.line + 1, col: p.character + 1 };
  }

  text(node: ts.Node): string {
    const t = node.getText(this.sf).replace(/\s+/g, ' ');
    return t.length > 60 ? `${t.slice(0, 57)}...` : t;
  }

  // --- slots, labels, state -------------------------------------------------------------------

  slot(node: ts.Node): number {
    const s = this.free.pop() ?? this.slotsUsed++;
    if (s >= MAX_SLOTS) this.fail(node, `more than ${MAX_SLOTS} values live at once (the kernel gives a program 512 bytes of stack)`, 'split the filter into smaller helpers or fewer simultaneous variables');
    if (s + 1 > this.maxSlot) this.maxSlot = s + 1;
    return s;
  }

  release(v: Val): void {
    if (v.tmp === true && !isK(v.o)) {
      this.free.push(v.o.s);
      v.tmp = false;
    }
  }

  label(): number {
    return this.labelN++;
  }

  emit(op: IrOp): void {
    if (this.cur === null) return;
    if (this.ops.length >= MAX_OPS) throw new BpfCompileError(this.file, this.loc.line, this.loc.col, `the filter unrolls to more than ${MAX_OPS} operations`, 'use fewer or shorter loops');
    this.ops.push({ ...op, loc: this.loc } as Ir);
  }

  rangeOf(o: Opnd): Range {
    if (isK(o)) return range(o.k, o.k);
    // Unreachable code (a condition the ranges decide): nothing is emitted, any range will do.
    if (this.cur === null) return range(0n, 0n);
    return this.cur.get(o.s) ?? range(-MAX_SAFE, MAX_SAFE);
  }

  setRange(s: number, r: Range): void {
    this.cur?.set(s, r);
  }

  private clone(st: State): State {
    return new Map(st);
  }

  private join(a: State | null, b: State): State {
    if (a === null) return this.clone(b);
    const out: State = new Map();
    for (const [s, r] of a) {
      const q = b.get(s);
      if (q !== undefined) out.set(s, range(min(r.lo, q.lo), max(r.hi, q.hi)));
    }
    return out;
  }

  /** Jump to `label` from here (if reachable); `st` is the state that flows there. */
  private flow(label: number, st: State): void {
    const l = this.pending.get(label);
    if (l) l.push(st);
    else this.pending.set(label, [st]);
  }

  jump(label: number): void {
    if (this.cur === null) return;
    this.emit({ op: 'ja', label });
    this.flow(label, this.cur);
    this.cur = null;
  }

  place(label: number): void {
    let st: State | null = this.cur;
    for (const p of this.pending.get(label) ?? []) st = this.join(st, p);
    this.pending.delete(label);
    this.cur = st;
    if (st !== null) this.ops.push({ op: 'label', label, loc: this.loc });
  }

  /** if (a cc b) goto label, narrowing the ranges of both paths. */
  branch(cc: Cond, a: Opnd, b: Opnd, label: number): void {
    if (this.cur === null) return;
    const ra = this.rangeOf(a);
    const rb = this.rangeOf(b);
    const t = decide(cc, ra, rb);
    if (t === true) return this.jump(label);
    if (t === false) return;
    this.emit({ op: 'jcc', cc, a, b, label });
    const taken = this.clone(this.cur);
    narrow(taken, cc, a, b, ra, rb);
    narrow(this.cur, negate(cc), a, b, ra, rb);
    this.flow(label, taken);
  }

  /** d = a, with the range of a. */
  mov(d: number, a: Opnd): void {
    if (this.cur === null) return;
    const r = this.rangeOf(a);
    this.emit({ op: 'mov', d, a });
    this.setRange(d, r);
  }

  // --- the module -----------------------------------------------------------------------------

  /** Lower the module's default export; returns the program. */
  lowerModule(): IrProgram {
    let filter: ts.FunctionLikeDeclaration | null = null;
    let filterNode: ts.Expression | null = null;
    for (const st of this.sf.statements) {
      if (ts.isImportDeclaration(st)) bindImport(this, st);
      else if (ts.isFunctionDeclaration(st)) {
        const isDefault = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) === true;
        if (isDefault) filter = st;
        if (st.name) this.module.set(st.name.text, { kind: 'fn', decl: st, name: st.name.text });
      } else if (ts.isVariableStatement(st)) bindModuleVars(this, st);
      else if (ts.isExportAssignment(st) && !st.isExportEquals) filterNode = st.expression;
    }
    if (filter === null) {
      if (filterNode === null) this.fail(this.sf, 'the module has no default export', "a filter module is `export default (ctx: XdpContext) => verdict`");
      filter = resolveFilter(this, filterNode);
    }
    const ctxParam = filter.parameters[0];
    if (filter.parameters.length !== 1 || !ts.isIdentifier(ctxParam.name))
      this.fail(filter, 'the filter must take exactly one parameter, the context', '`(ctx: XdpContext) => verdict`');
    prepareParse(this, filter);
    const scope: Scope = new Map(this.module);
    scope.set(ctxParam.name.text, { kind: 'ctx' });
    this.fn = { result: null, end: this.label(), ty: 'num', loops: [], name: 'the filter' };
    this.at(filter);
    if (this.parse !== null) emitParse(this, this.parse, filter);
    this.body(filter, scope);
    // Falling off the end returns undefined in JS: the hook counts that as XDP_ABORTED.
    if (this.cur !== null) this.emit({ op: 'ret', a: { k: BigInt(XDP_ABORTED) } });
    this.cur = null;
    // The emitter's scratch after the slots: a map key and value, the verdict counter's key.
    const scratch = MAP_SLOTS(this.maps);
    if (this.maxSlot + scratch > MAX_SLOTS) this.fail(filter, `more than ${MAX_SLOTS - scratch} values live at once (the kernel gives a program 512 bytes of stack; maps' keys and values take ${scratch * 8})`, 'split the filter into smaller helpers or fewer simultaneous variables');
    return { ops: this.ops, slots: this.maxSlot, tables: this.tables, maps: this.maps };
  }

  // --- the recursion between lower-*.ts, through the context ----------------------------------

  /** A name's binding; a module-level const is evaluated on first use. */
  lookup(id: ts.Identifier, scope: Scope): Binding {
    return lookupName(this, id, scope);
  }

  /** A function's body: the filter's, or an inlined helper's. */
  body(f: ts.FunctionLikeDeclaration, scope: Scope): void {
    lowerBody(this, f, scope);
  }

  value(e: ts.Expression, scope: Scope): Val {
    return lowerValue(this, e, scope);
  }

  /** Jump to t when e is truthy, to f otherwise; leaves the current point unreachable. */
  cond(e: ts.Expression, scope: Scope, t: number, f: number): void {
    lowerCond(this, e, scope, t, f);
  }

  /** a fn b with JS semantics on the subset (lower-expr.ts). */
  binary(fn: BinFn, a: Val, b: Val, node: ts.Node, into?: number): Val {
    return lowerBinary(this, fn, a, b, node, into);
  }
}

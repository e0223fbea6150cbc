// The lowering: a filter module's AST (TypeScript compiler API) -> IR (ir.ts), checking the
// subset as it goes (README.md says exactly what it is). It interprets the filter abstractly:
// every value carries a static range, kept per program point (cloned at branches, joined where
// paths meet, narrowed by comparisons with constants), so it can prove each integer stays within
// ±2^53 (where a 64-bit register and a JS double agree) and each table index in bounds. Loops
// have constant bounds and are unrolled; helpers are inlined; constants fold.
import ts from 'typescript';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX } from '../core/xdp-helpers.ts';
import { BpfCompileError } from './errors.ts';
import type { AluFn, Cond, Ir, IrOp, IrProgram, Loc, MapDef, Opnd, Table } from './ir.ts';
import { isK } from './ir.ts';
import { lowerMapCall, mapDef, MAP_SLOTS } from './maps-lower.ts';
import { emitParse, lowerAccessor, L2_ACCESSORS, L3_ACCESSORS, ACCESSORS, type ParseSlots } from './ctx-access.ts';

const MAX_SAFE = 2n ** 53n;
const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;
const U32_MAX = 2n ** 32n - 1n;
/** 512 B of BPF stack, 8 B a slot. */
export const MAX_SLOTS = 64;
const MAX_OPS = 200_000;
const MAX_TRIPS = 4096;
const MAX_INLINE_DEPTH = 16;

/** Names a filter may import from softnet/xdp, with their values. */
const XDP_CONSTANTS: Record<string, number> = { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN };
const XDP_MODULE = /(^softnet\/xdp$|\/xdp(\.ts|\.js)?$|\/xdp-(helpers|map)(\.ts|\.js)?$)/;

export type Ty = 'num' | 'bool';
/** A value: an operand, its type, and (for constants) nothing else; slots' ranges live in the state. */
export interface Val {
  t: Ty;
  o: Opnd;
  /** The slot is a temporary this value owns (a binding may adopt it). */
  tmp?: boolean;
}

export interface Range {
  lo: bigint;
  hi: bigint;
}
/** Abstract state at a program point: the range of each live slot. */
type State = Map<number, Range>;

type Binding =
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
interface FnCtx {
  /** Inlined helper: result slot and end label; null for the filter itself. */
  result: number | null;
  end: number;
  ty: Ty | null;
  loops: LoopCtx[];
  name: string;
}

const range = (lo: bigint, hi: bigint): Range => ({ lo, hi });
const min = (...x: bigint[]) => x.reduce((a, b) => (a < b ? a : b));
const max = (...x: bigint[]) => x.reduce((a, b) => (a > b ? a : b));
const toInt32 = (v: bigint) => BigInt.asIntN(32, v);
const toUint32 = (v: bigint) => BigInt.asUintN(32, v);

export class Lowerer {
  readonly ops: Ir[] = [];
  readonly tables: Table[] = [];
  readonly maps: MapDef[] = [];
  /** The call statement being lowered (map.set() has no value: only a statement may call it). */
  stmtCall: ts.Node | null = null;
  private tableBytes = 0;
  private slotsUsed = 0;
  private free: number[] = [];
  private maxSlot = 0;
  private labelN = 0;
  /** Current state, null where the code is unreachable (after return/break/continue). */
  cur: State | null = new Map();
  private pending = new Map<number, State[]>();
  private loc: Loc = { line: 1, col: 1 };
  private readonly module: Scope = new Map();
  private readonly moduleDecl = new Map<string, ts.Node>();
  private readonly inlining: string[] = [];
  private fn!: FnCtx;
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

  private at(node: ts.Node): void {
    const p = this.sf.getLineAndCharacterOfPosition(node.getStart(this.sf));
    this.loc = { line: p.line + 1, col: p.character + 1 };
  }

  private text(node: ts.Node): string {
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
      if (ts.isImportDeclaration(st)) this.bindImport(st);
      else if (ts.isFunctionDeclaration(st)) {
        const isDefault = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) === true;
        if (isDefault) filter = st;
        if (st.name) this.module.set(st.name.text, { kind: 'fn', decl: st, name: st.name.text });
      } else if (ts.isVariableStatement(st)) this.bindModuleVars(st);
      else if (ts.isExportAssignment(st) && !st.isExportEquals) filterNode = st.expression;
    }
    if (filter === null) {
      if (filterNode === null) this.fail(this.sf, 'the module has no default export', "a filter module is `export default (ctx: XdpContext) => verdict`");
      filter = this.resolveFilter(filterNode);
    }
    const ctxParam = filter.parameters[0];
    if (filter.parameters.length !== 1 || !ts.isIdentifier(ctxParam.name))
      this.fail(filter, 'the filter must take exactly one parameter, the context', '`(ctx: XdpContext) => verdict`');
    this.prepareParse(filter);
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

  private resolveFilter(e: ts.Expression): ts.FunctionLikeDeclaration {
    e = skipParens(e);
    if (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return e;
    if (ts.isIdentifier(e)) {
      const b = this.module.get(e.text);
      if (b?.kind === 'fn') return b.decl;
      this.fail(e, `the default export ${e.text} is not a function declared in this module`, 'export the filter function itself');
    }
    if (ts.isCallExpression(e))
      this.fail(
        e,
        `the default export is the result of a call (${this.text(e.expression)}(...)), a filter built at run time`,
        "a compiled filter's default export must be the filter function itself: `export default (ctx: XdpContext) => ...` with its tables as module-level consts (state kept in closures needs kernel maps: a module-level const m = defineMap({...}) from softnet/xdp)",
      );
    this.fail(e, `the default export (${this.text(e)}) is not a function`, '`export default (ctx: XdpContext) => verdict`');
  }

  private bindImport(st: ts.ImportDeclaration): void {
    const from = (st.moduleSpecifier as ts.StringLiteral).text;
    const named = st.importClause?.namedBindings;
    const xdp = XDP_MODULE.test(from);
    if (st.importClause?.name) this.module.set(st.importClause.name.text, { kind: 'refuse', what: `${st.importClause.name.text} is imported from ${from}`, hint: 'a compiled filter sees only its own module and the constants of softnet/xdp: copy what it needs into the module', node: st });
    if (named && ts.isNamespaceImport(named)) this.module.set(named.name.text, { kind: 'refuse', what: `namespace import ${named.name.text}`, hint: 'import the names: import { XDP_DROP, XDP_PASS } from "softnet/xdp"', node: named });
    if (!named || !ts.isNamedImports(named)) return;
    for (const el of named.elements) {
      const name = el.name.text;
      const orig = (el.propertyName ?? el.name).text;
      if (xdp && orig === 'defineMap') this.module.set(name, { kind: 'defineMap' });
      else if (xdp && orig in XDP_CONSTANTS) this.module.set(name, { kind: 'val', v: { t: 'num', o: { k: BigInt(XDP_CONSTANTS[orig]) } }, mutable: false });
      else
        this.module.set(name, {
          kind: 'refuse',
          what: `${name} is imported from ${from}`,
          hint: xdp ? 'of softnet/xdp a compiled filter uses the XDP_* and TCP_* constants and XdpContext' : 'a compiled filter sees only its own module and softnet/xdp: copy what it needs into the module',
          node: el,
        });
    }
  }

  private bindModuleVars(st: ts.VariableStatement): void {
    const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
    for (const d of st.declarationList.declarations) {
      if (!ts.isIdentifier(d.name)) continue;
      const name = d.name.text;
      this.moduleDecl.set(name, d);
      if (!isConst) {
        this.module.set(name, { kind: 'refuse', what: `module-level ${name} is mutable (let/var): state shared across packets`, hint: 'make it a const, or keep state in a kernel map (defineMap from softnet/xdp); or run this filter with offload: js', node: d });
        continue;
      }
      const init = d.initializer ? skipParens(d.initializer) : undefined;
      if (init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) {
        this.module.set(name, { kind: 'fn', decl: init, name });
        continue;
      }
      // Maps are declared now, in source order: the module's defineMap calls pair with them by order.
      if (init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) && this.module.get(init.expression.text)?.kind === 'defineMap') {
        this.maps.push(mapDef(this, name, init));
        this.module.set(name, { kind: 'map', map: this.maps.length - 1 });
        continue;
      }
      // Evaluated when the filter first uses it: unrelated module code never blocks compiling.
      this.module.set(name, { kind: 'refuse', what: '', hint: '', node: d });
    }
  }

  /** A module-level const, evaluated on first use. */
  private moduleConst(name: string, d: ts.VariableDeclaration, use: ts.Node): Binding {
    if (!d.initializer) this.fail(use, `${name} has no initializer`);
    const init = skipParens(d.initializer);
    const table = this.tableValues(name, init);
    let b: Binding;
    if (table !== null) {
      this.checkNotWritten(name, use);
      b = { kind: 'table', table: this.addTable(name, table.size, table.signed, table.values) };
    } else {
      const k = this.constEval(init);
      if (k === null)
        this.fail(use, `${name} (${this.text(init)}) is not a compile-time integer constant or constant table`, 'module-level values a compiled filter uses must be integer literals, expressions of them, or array/typed-array literals of them');
      b = { kind: 'val', v: k, mutable: false };
    }
    this.module.set(name, b);
    return b;
  }

  private checkNotWritten(name: string, use: ts.Node): void {
    const visit = (n: ts.Node): void => {
      if (ts.isBinaryExpression(n) && isAssignOp(n.operatorToken.kind) && ts.isElementAccessExpression(skipParens(n.left))) {
        const t = skipParens((skipParens(n.left) as ts.ElementAccessExpression).expression);
        if (ts.isIdentifier(t) && t.text === name) this.failAt(n, use, name);
      }
      if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && ts.isElementAccessExpression(skipParens(n.operand))) {
        const t = skipParens((skipParens(n.operand) as ts.ElementAccessExpression).expression);
        if (ts.isIdentifier(t) && t.text === name) this.failAt(n, use, name);
      }
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && ts.isIdentifier(n.expression.expression) && n.expression.expression.text === name && /^(set|fill|copyWithin|sort|reverse|push|pop|shift|unshift|splice)$/.test(n.expression.name.text))
        this.failAt(n, use, name);
      ts.forEachChild(n, visit);
    };
    visit(this.sf);
  }

  private failAt(write: ts.Node, _use: ts.Node, name: string): never {
    this.fail(write, `table ${name} is modified here; a compiled filter's tables are constant`, 'keep the table constant, or keep changing state in a kernel map (defineMap from softnet/xdp); or run this filter with offload: js');
  }

  private tableValues(name: string, e: ts.Expression): { size: 1 | 2 | 4 | 8; signed: boolean; values: bigint[] } | null {
    let elems: readonly ts.Expression[] | null = null;
    let typed: string | null = null;
    let zeros = -1;
    if (ts.isArrayLiteralExpression(e)) elems = e.elements;
    else if (ts.isNewExpression(e) && ts.isIdentifier(e.expression) && /^(Uint8|Int8|Uint16|Int16|Uint32|Int32)Array$/.test(e.expression.text)) {
      typed = e.expression.text;
      const a = e.arguments?.[0];
      if (a === undefined) elems = [];
      else if (ts.isArrayLiteralExpression(skipParens(a))) elems = (skipParens(a) as ts.ArrayLiteralExpression).elements;
      else {
        const n = this.constEval(a);
        if (n === null || !isK(n.o) || n.o.k < 0n || n.o.k > 65536n) this.fail(a, `${typed}(${this.text(a)}): a compiled table is built from an array literal or a constant length`);
        zeros = Number(n.o.k);
        elems = [];
      }
    } else return null;
    const values: bigint[] = [];
    for (const x of elems) {
      if (ts.isSpreadElement(x) || ts.isOmittedExpression(x)) this.fail(x, `table ${name}: only constant integer elements`);
      const v = this.constEval(x);
      if (v === null || v.t !== 'num' || !isK(v.o)) this.fail(x, `table ${name}: element ${this.text(x)} is not a compile-time integer constant`);
      values.push(v.o.k);
    }
    for (let i = 0; i < zeros; i++) values.push(0n);
    if (values.length === 0) this.fail(e, `table ${name} is empty`);
    if (typed !== null) {
      const bits = Number(/\d+/.exec(typed)![0]);
      const signed = typed.startsWith('Int');
      // What the typed array stores (ToUint8, ToInt16...), as JS does.
      const conv = values.map((v) => (signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v)));
      return { size: (bits / 8) as 1 | 2 | 4, signed, values: conv };
    }
    const lo = min(...values);
    const hi = max(...values);
    if (lo >= 0n && hi <= 255n) return { size: 1, signed: false, values };
    if (lo >= 0n && hi <= 65535n) return { size: 2, signed: false, values };
    if (lo >= 0n && hi <= U32_MAX) return { size: 4, signed: false, values };
    if (lo >= I32_MIN && hi <= I32_MAX) return { size: 4, signed: true, values };
    return { size: 8, signed: true, values };
  }

  private addTable(name: string, size: 1 | 2 | 4 | 8, signed: boolean, values: bigint[]): number {
    this.tableBytes = (this.tableBytes + 7) & ~7;
    this.tables.push({ name, size, signed, values, offset: this.tableBytes });
    this.tableBytes += size * values.length;
    return this.tables.length - 1;
  }

  /** A module-level expression folded to a constant, or null if it is not one. */
  private constEval(e: ts.Expression): Val | null {
    const saved = this.cur;
    const n = this.ops.length;
    const slots = [this.slotsUsed, this.maxSlot];
    const free = [...this.free];
    this.cur = new Map();
    try {
      const v = this.value(e, new Map(this.module));
      return isK(v.o) && this.ops.length === n ? v : null;
    } catch (err) {
      if (err instanceof BpfCompileError) return null;
      throw err;
    } finally {
      this.ops.length = n;
      this.cur = saved;
      [this.slotsUsed, this.maxSlot] = slots;
      this.free = free;
    }
  }

  private lookup(id: ts.Identifier, scope: Scope): Binding {
    const b = scope.get(id.text);
    if (b === undefined) {
      if (id.text === 'undefined' || id.text === 'NaN' || id.text === 'Infinity') this.fail(id, `${id.text} is not an integer`, 'a compiled filter computes with integers only');
      this.fail(id, `${id.text} is not defined in this module`, 'a compiled filter sees its parameters, locals, module-level consts and functions, and the constants of softnet/xdp');
    }
    if (b.kind === 'refuse') {
      if (b.what === '' && ts.isVariableDeclaration(b.node)) {
        const got = this.moduleConst(id.text, b.node, id);
        scope.set(id.text, got);
        return got;
      }
      this.fail(id, b.what, b.hint);
    }
    return b;
  }

  private prepareParse(filter: ts.Node): void {
    let l2 = false;
    let l3 = false;
    const visit = (n: ts.Node): void => {
      if (ts.isPropertyAccessExpression(n)) {
        if (L2_ACCESSORS.has(n.name.text)) l2 = true;
        if (L3_ACCESSORS.has(n.name.text)) l3 = true;
      }
      ts.forEachChild(n, visit);
    };
    // Helpers may call accessors too: look at the whole module (cheap, and conservative).
    visit(this.sf);
    void filter;
    if (!l2 && !l3) return;
    const s = () => this.slot(filter);
    this.parse = { l3, etype: s(), vid: s(), l3o: s(), proto: l3 ? s() : -1, l4o: l3 ? s() : -1 };
  }

  // --- statements -----------------------------------------------------------------------------

  private body(f: ts.FunctionLikeDeclaration, scope: Scope): void {
    const b = f.body;
    if (b === undefined) this.fail(f, 'function without a body');
    if (ts.isBlock(b)) this.block(b.statements, scope);
    else this.ret(b as ts.Expression, scope, b);
  }

  private block(sts: readonly ts.Statement[], outer: Scope): void {
    const scope: Scope = new Map(outer);
    const locals: Val[] = [];
    for (const st of sts) {
      if (this.cur === null) break; // unreachable: JS never runs it either
      this.stmt(st, scope, locals);
    }
    for (const v of locals) {
      v.tmp = true;
      this.release(v);
    }
  }

  private stmt(st: ts.Statement, scope: Scope, locals: Val[]): void {
    this.at(st);
    if (ts.isVariableStatement(st)) return this.decl(st.declarationList, scope, locals);
    if (ts.isExpressionStatement(st)) return this.exprStmt(st.expression, scope);
    if (ts.isIfStatement(st)) {
      const t = this.label();
      const f = this.label();
      const end = this.label();
      this.cond(st.expression, scope, t, f);
      this.place(t);
      if (this.cur !== null) this.sub(st.thenStatement, scope);
      this.jump(end);
      this.place(f);
      if (st.elseStatement && this.cur !== null) this.sub(st.elseStatement, scope);
      this.place(end);
      return;
    }
    if (ts.isReturnStatement(st)) {
      if (!st.expression) this.fail(st, 'return without a value', 'return a verdict (XDP_PASS, XDP_DROP, ...)');
      return this.ret(st.expression, scope, st);
    }
    if (ts.isBlock(st)) return this.block(st.statements, scope);
    if (ts.isForStatement(st)) return this.forLoop(st, scope);
    if (ts.isForOfStatement(st)) return this.forOf(st, scope);
    if (ts.isBreakStatement(st) || ts.isContinueStatement(st)) {
      if (st.label) this.fail(st, 'labelled break/continue', 'use an unlabelled break/continue or a helper function that returns');
      const l = this.fn.loops[this.fn.loops.length - 1];
      if (!l) this.fail(st, `${ts.isBreakStatement(st) ? 'break' : 'continue'} outside a loop`);
      return this.jump(ts.isBreakStatement(st) ? l.brk : l.cont);
    }
    if (ts.isEmptyStatement(st)) return;
    if (ts.isWhileStatement(st) || ts.isDoStatement(st))
      this.fail(st, 'while/do loops have no bound the compiler can see', 'use for (let i = 0; i < N; i++) with a constant N (the kernel verifier needs bounded loops)');
    if (ts.isSwitchStatement(st)) this.fail(st, 'switch is outside the compiled subset', 'use if / else if');
    if (ts.isFunctionDeclaration(st)) this.fail(st, 'a function declared inside the filter', 'declare helpers at module level (they are inlined)');
    if (ts.isTryStatement(st) || ts.isThrowStatement(st)) this.fail(st, 'exceptions are outside the compiled subset', 'return XDP_ABORTED instead of throwing');
    this.fail(st, `${ts.SyntaxKind[st.kind]} is outside the compiled subset`, 'see src/bpf/README.md for what compiles');
  }

  /** A nested statement in its own block scope. */
  private sub(st: ts.Statement, scope: Scope): void {
    if (ts.isBlock(st)) this.block(st.statements, scope);
    else this.block([st], scope);
  }

  private ret(e: ts.Expression, scope: Scope, node: ts.Node): void {
    const v = this.value(e, scope);
    this.at(node);
    const f = this.fn;
    if (f.ty !== null && f.ty !== v.t) this.fail(e, `returns a ${v.t === 'bool' ? 'boolean' : 'number'} where ${f.name} returns ${f.ty === 'bool' ? 'booleans' : 'numbers'}`, f.result === null ? 'a filter returns a verdict: XDP_PASS, XDP_DROP, XDP_TX or XDP_ABORTED' : 'return one type');
    f.ty = v.t;
    if (f.result === null) {
      // Anything but a verdict is counted as XDP_ABORTED by the JS hook; the kernel must agree.
      const r = this.rangeOf(v.o);
      if (r.lo < 0n || r.hi > 4n) {
        const bad = this.label();
        this.branch('ugt', v.o, { k: 4n }, bad);
        this.emit({ op: 'ret', a: v.o });
        this.cur = null;
        this.place(bad);
        this.emit({ op: 'ret', a: { k: BigInt(XDP_ABORTED) } });
      } else this.emit({ op: 'ret', a: v.o });
      this.cur = null;
    } else {
      this.mov(f.result, v.o);
      this.jump(f.end);
    }
    this.release(v);
  }

  private decl(list: ts.VariableDeclarationList, scope: Scope, locals: Val[]): void {
    const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
    if (!isConst && (list.flags & ts.NodeFlags.Let) === 0) this.fail(list, 'var is outside the compiled subset', 'use const or let');
    for (const d of list.declarations) {
      if (!ts.isIdentifier(d.name)) this.fail(d.name, 'destructuring is outside the compiled subset', 'declare one variable at a time');
      if (!d.initializer) this.fail(d, `${d.name.text} has no initial value`, 'initialize it (JS would start it as undefined)');
      this.at(d);
      const v = this.value(d.initializer, scope);
      let bound: Val;
      if (isK(v.o) && isConst) bound = v;
      else if (v.tmp === true) {
        bound = { t: v.t, o: v.o };
        locals.push(bound);
      } else {
        // A copy: the binding must not follow later changes of the variable it came from.
        const s = this.slot(d);
        this.mov(s, v.o);
        bound = { t: v.t, o: { s } };
        locals.push(bound);
      }
      scope.set(d.name.text, { kind: 'val', v: bound, mutable: !isConst });
    }
  }

  private exprStmt(e: ts.Expression, scope: Scope): void {
    e = skipParens(e);
    if (ts.isBinaryExpression(e) && isAssignOp(e.operatorToken.kind)) return this.assign(e.left, e.operatorToken.kind, e.right, scope, e);
    if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken))
      return this.assign(e.operand, e.operator === ts.SyntaxKind.PlusPlusToken ? ts.SyntaxKind.PlusEqualsToken : ts.SyntaxKind.MinusEqualsToken, ts.factory.createNumericLiteral(1), scope, e);
    if (ts.isCallExpression(e)) {
      this.stmtCall = e;
      const v = this.value(e, scope);
      this.release(v);
      return;
    }
    this.fail(e, `the expression statement ${this.text(e)} does nothing the compiler supports`, 'assignments, ++/--, and calls are statements');
  }

  private assign(target: ts.Expression, op: ts.SyntaxKind, rhs: ts.Expression, scope: Scope, node: ts.Node): void {
    target = skipParens(target);
    if (ts.isElementAccessExpression(target)) this.fail(target, 'writing to a table', 'tables are constant in a compiled filter; state across packets needs kernel maps (defineMap from softnet/xdp)');
    if (!ts.isIdentifier(target)) this.fail(target, `assignment to ${this.text(target)}`, 'only local let variables can be assigned');
    const b = this.lookup(target, scope);
    if (b.kind !== 'val' || !b.mutable || isK(b.v.o)) this.fail(target, `${target.text} is not a local let variable`, 'only local let variables can be assigned (module-level state needs kernel maps)');
    const d = b.v.o.s;
    this.at(node);
    if (op === ts.SyntaxKind.EqualsToken) {
      const v = this.value(rhs, scope);
      if (v.t !== b.v.t) this.fail(rhs, `assigning a ${v.t === 'bool' ? 'boolean' : 'number'} to ${target.text}, a ${b.v.t === 'bool' ? 'boolean' : 'number'}`);
      this.mov(d, v.o);
      this.release(v);
      return;
    }
    const bin = COMPOUND[op];
    if (bin === undefined) this.fail(node, `${ts.tokenToString(op)} is outside the compiled subset`);
    const r = this.value(rhs, scope);
    const v = this.binary(bin, b.v, r, node, d);
    if (!isK(v.o) && v.o.s === d) return;
    this.mov(d, v.o);
    this.release(v);
  }

  private forLoop(st: ts.ForStatement, scope: Scope): void {
    const bad = (why: string): never =>
      this.fail(st, `this for loop is not one the compiler can bound (${why})`, 'write for (let i = A; i < B; i++) (or <=, >, >=, i--, i += k) with constant A, B, k and no assignment to i in the body');
    const init = st.initializer;
    if (!init || !ts.isVariableDeclarationList(init) || init.declarations.length !== 1) bad('one let counter');
    const decl = (init as ts.VariableDeclarationList).declarations[0];
    if (!ts.isIdentifier(decl.name) || !decl.initializer) bad('one let counter with a start value');
    const name = (decl.name as ts.Identifier).text;
    const start = this.constOf(decl.initializer!, scope);
    const c = st.condition ? skipParens(st.condition) : null;
    if (!c || !ts.isBinaryExpression(c) || !ts.isIdentifier(c.left) || c.left.text !== name) bad(`condition ${name} < constant`);
    const cop = (c as ts.BinaryExpression).operatorToken.kind;
    const limit = this.constOf((c as ts.BinaryExpression).right, scope);
    const inc = st.incrementor ? skipParens(st.incrementor) : null;
    let step = 0n;
    if (inc && (ts.isPostfixUnaryExpression(inc) || ts.isPrefixUnaryExpression(inc)) && ts.isIdentifier(inc.operand) && inc.operand.text === name)
      step = inc.operator === ts.SyntaxKind.PlusPlusToken ? 1n : inc.operator === ts.SyntaxKind.MinusMinusToken ? -1n : 0n;
    else if (inc && ts.isBinaryExpression(inc) && ts.isIdentifier(inc.left) && inc.left.text === name) {
      const k = this.constOf(inc.right, scope);
      if (inc.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) step = k;
      else if (inc.operatorToken.kind === ts.SyntaxKind.MinusEqualsToken) step = -k;
    }
    if (step === 0n) bad(`increment ${name}++, ${name}--, ${name} += k`);
    if (assigns(st.statement, name)) bad(`${name} is assigned in the body`);
    const test = (i: bigint): boolean => {
      switch (cop) {
        case ts.SyntaxKind.LessThanToken:
          return i < limit;
        case ts.SyntaxKind.LessThanEqualsToken:
          return i <= limit;
        case ts.SyntaxKind.GreaterThanToken:
          return i > limit;
        case ts.SyntaxKind.GreaterThanEqualsToken:
          return i >= limit;
        case ts.SyntaxKind.ExclamationEqualsEqualsToken:
          return i !== limit;
        default:
          return bad(`condition ${name} < constant`);
      }
    };
    const iters: bigint[] = [];
    for (let i = start; test(i); i += step) {
      iters.push(i);
      if (iters.length > MAX_TRIPS) bad(`more than ${MAX_TRIPS} iterations`);
    }
    this.unroll(iters, name, st.statement, scope);
  }

  private forOf(st: ts.ForOfStatement, scope: Scope): void {
    const init = st.initializer;
    if (!ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !ts.isIdentifier(init.declarations[0].name))
      this.fail(st, 'for...of needs one const element variable', 'for (const x of TABLE)');
    const name = (init.declarations[0].name as ts.Identifier).text;
    const src = skipParens(st.expression);
    const b = ts.isIdentifier(src) ? this.lookup(src, scope) : null;
    if (b?.kind !== 'table') this.fail(st.expression, `for...of over ${this.text(st.expression)}`, 'for...of runs over a module-level constant table');
    if (assigns(st.statement, name)) this.fail(st, `${name} is assigned in the body`);
    this.unroll(this.tables[b.table].values, name, st.statement, scope);
  }

  /** The loop body once per value of the counter, the counter a constant in each copy. */
  private unroll(iters: bigint[], name: string, body: ts.Statement, scope: Scope): void {
    const brk = this.label();
    for (const i of iters) {
      if (this.cur === null) break;
      const cont = this.label();
      const inner: Scope = new Map(scope);
      inner.set(name, { kind: 'val', v: { t: 'num', o: { k: i } }, mutable: false });
      this.fn.loops.push({ brk, cont });
      this.sub(body, inner);
      this.fn.loops.pop();
      this.place(cont);
    }
    this.place(brk);
  }

  private constOf(e: ts.Expression, scope: Scope): bigint {
    const v = this.value(e, scope);
    if (!isK(v.o) || v.t !== 'num') this.fail(e, `${this.text(e)} is not a compile-time constant`, 'loop bounds and steps must be constants (literals, module-level consts, TABLE.length)');
    return v.o.k;
  }

  // --- conditions -----------------------------------------------------------------------------

  /** Jump to t when e is truthy, to f otherwise; leaves the current point unreachable. */
  cond(e: ts.Expression, scope: Scope, t: number, f: number): void {
    e = skipParens(e);
    if (this.cur === null) return;
    if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return this.cond(e.operand, scope, f, t);
    if (ts.isBinaryExpression(e)) {
      const k = e.operatorToken.kind;
      if (k === ts.SyntaxKind.AmpersandAmpersandToken || k === ts.SyntaxKind.BarBarToken) {
        const mid = this.label();
        if (k === ts.SyntaxKind.AmpersandAmpersandToken) this.cond(e.left, scope, mid, f);
        else this.cond(e.left, scope, t, mid);
        this.place(mid);
        this.cond(e.right, scope, t, f);
        return;
      }
      const cc = COMPARE[k];
      if (cc !== undefined) {
        const a = this.value(e.left, scope);
        const b = this.value(e.right, scope);
        this.at(e);
        if (a.t !== b.t) this.fail(e, `comparing a ${a.t === 'bool' ? 'boolean' : 'number'} with a ${b.t === 'bool' ? 'boolean' : 'number'}`);
        if (a.t === 'bool' && cc !== 'eq' && cc !== 'ne') this.fail(e, 'ordering booleans', 'compare numbers');
        this.branch(cc, a.o, b.o, t);
        this.release(a);
        this.release(b);
        this.jump(f);
        return;
      }
    }
    const v = this.value(e, scope);
    this.at(e);
    this.branch('ne', v.o, { k: 0n }, t);
    this.release(v);
    this.jump(f);
  }

  /** A boolean as a value: 1 or 0 in a slot. */
  private boolValue(e: ts.Expression, scope: Scope): Val {
    const s = this.slot(e);
    const t = this.label();
    const f = this.label();
    const end = this.label();
    this.cond(e, scope, t, f);
    this.place(t);
    this.mov(s, { k: 1n });
    this.jump(end);
    this.place(f);
    this.mov(s, { k: 0n });
    this.place(end);
    const r = this.rangeOf({ s });
    if (r.lo === r.hi) {
      this.free.push(s);
      return { t: 'bool', o: { k: r.lo } };
    }
    return { t: 'bool', o: { s }, tmp: true };
  }

  // --- expressions ----------------------------------------------------------------------------

  value(e: ts.Expression, scope: Scope): Val {
    e = skipParens(e);
    this.at(e);
    if (ts.isNumericLiteral(e)) {
      const n = Number(e.text);
      if (!Number.isSafeInteger(n)) this.fail(e, `${e.text} is not an integer within ±2^53`, 'a compiled filter computes with integers only');
      return { t: 'num', o: { k: BigInt(n) } };
    }
    if (e.kind === ts.SyntaxKind.TrueKeyword) return { t: 'bool', o: { k: 1n } };
    if (e.kind === ts.SyntaxKind.FalseKeyword) return { t: 'bool', o: { k: 0n } };
    if (ts.isIdentifier(e)) {
      const b = this.lookup(e, scope);
      if (b.kind === 'val') return b.v;
      if (b.kind === 'ctx') this.fail(e, 'the context as a value', 'call its accessors: ctx.ipProto(), ctx.l4Dport(), ctx.u16At(off)...');
      if (b.kind === 'table') this.fail(e, `table ${e.text} as a value`, `index it: ${e.text}[i]`);
      if (b.kind === 'map') this.fail(e, `map ${e.text} as a value`, `call its methods: ${e.text}.get(key), .has, .set, .delete`);
      this.fail(e, `function ${e.text} as a value`, 'call it');
    }
    if (ts.isPropertyAccessExpression(e)) return this.property(e, scope);
    if (ts.isElementAccessExpression(e)) return this.element(e, scope);
    if (ts.isCallExpression(e)) return this.call(e, scope);
    if (ts.isConditionalExpression(e)) return this.conditional(e, scope);
    if (ts.isPrefixUnaryExpression(e)) return this.unary(e, scope);
    if (ts.isBinaryExpression(e)) {
      const k = e.operatorToken.kind;
      if (COMPARE[k] !== undefined) return this.boolValue(e, scope);
      if (k === ts.SyntaxKind.AmpersandAmpersandToken || k === ts.SyntaxKind.BarBarToken) return this.logical(e, scope);
      if (isAssignOp(k)) this.fail(e, 'an assignment inside an expression', 'assign in a statement of its own');
      const fn = BINARY[k];
      if (fn === undefined) this.fail(e.operatorToken, `operator ${ts.tokenToString(k)} is outside the compiled subset`, k === ts.SyntaxKind.SlashToken ? 'JS / makes fractions: use >> for powers of two' : 'see src/bpf/README.md');
      const a = this.value(e.left, scope);
      const b = this.value(e.right, scope);
      return this.binary(fn, a, b, e);
    }
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isTemplateExpression(e)) this.fail(e, 'strings are outside the compiled subset');
    if (ts.isBigIntLiteral(e)) this.fail(e, 'BigInt is outside the compiled subset', 'use numbers within ±2^53');
    this.fail(e, `${ts.SyntaxKind[e.kind]} (${this.text(e)}) is outside the compiled subset`, 'see src/bpf/README.md for what compiles');
  }

  private property(e: ts.PropertyAccessExpression, scope: Scope): Val {
    const obj = skipParens(e.expression);
    const name = e.name.text;
    if (ts.isIdentifier(obj)) {
      const b = this.lookup(obj, scope);
      if (b.kind === 'table' && name === 'length') return { t: 'num', o: { k: BigInt(this.tables[b.table].values.length) } };
      if (b.kind === 'ctx') {
        if (name === 'len') {
          const s = this.slot(e);
          this.emit({ op: 'len', d: s });
          this.setRange(s, range(0n, 65535n));
          return { t: 'num', o: { s }, tmp: true };
        }
        if (name === 'nowMs') {
          // Whole milliseconds of CLOCK_MONOTONIC (the JS hook floors its clock the same way).
          const s = this.slot(e);
          this.emit({ op: 'now', d: s });
          this.setRange(s, range(0n, 2n ** 50n));
          return { t: 'num', o: { s }, tmp: true };
        }
        if (ACCESSORS.has(name)) this.fail(e, `ctx.${name} is a method`, `call it: ctx.${name}()`);
        this.fail(e, `ctx.${name} has no kernel equivalent in the compiled subset`, CTX_HINT[name] ?? 'a compiled filter reads the frame through ctx accessors: ctx.ipProto(), ctx.u16At(off)...');
      }
    }
    this.fail(e, `property ${this.text(e)} is outside the compiled subset`, 'see src/bpf/README.md');
  }

  private element(e: ts.ElementAccessExpression, scope: Scope): Val {
    const obj = skipParens(e.expression);
    const b = ts.isIdentifier(obj) ? this.lookup(obj, scope) : null;
    if (b?.kind !== 'table') this.fail(e, `indexing ${this.text(obj)}`, b?.kind === 'ctx' ? 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off)' : 'only module-level constant tables can be indexed');
    const t = this.tables[b.table];
    const idx = this.value(e.argumentExpression, scope);
    if (idx.t !== 'num') this.fail(e.argumentExpression, 'a boolean index');
    const r = this.rangeOf(idx.o);
    const n = BigInt(t.values.length);
    if (r.lo < 0n || r.hi >= n)
      this.fail(
        e.argumentExpression,
        `index ${this.text(e.argumentExpression)} may be outside ${t.name} (its range is ${r.lo}..${r.hi}, the table has ${n} elements; JS would read undefined)`,
        `check it first (if (i >= 0 && i < ${t.name}.length)) or mask it (i & ${n - 1n} for a power-of-two table)`,
      );
    if (isK(idx.o)) return { t: 'num', o: { k: t.values[Number(idx.o.k)] } };
    this.at(e);
    const s = this.slot(e);
    this.emit({ op: 'tbl', d: s, table: b.table, idx: idx.o });
    this.release(idx);
    this.setRange(s, range(min(...t.values), max(...t.values)));
    return { t: 'num', o: { s }, tmp: true };
  }

  private call(e: ts.CallExpression, scope: Scope): Val {
    const callee = skipParens(e.expression);
    if (ts.isPropertyAccessExpression(callee)) {
      const obj = skipParens(callee.expression);
      const name = callee.name.text;
      if (ts.isIdentifier(obj) && obj.text === 'Math' && !scope.has('Math')) return this.math(name, e, scope);
      const mb = ts.isIdentifier(obj) ? this.lookup(obj, scope) : null;
      if (mb?.kind === 'map') return lowerMapCall(this, mb.map, name, e, scope);
      if (ts.isIdentifier(obj) && this.lookup(obj, scope).kind === 'ctx') {
        if (!ACCESSORS.has(name)) this.fail(e, `ctx.${name}() has no kernel equivalent in the compiled subset`, CTX_HINT[name] ?? 'see src/bpf/README.md for the accessors that compile');
        const args = e.arguments.map((a) => this.value(a, scope));
        this.at(e);
        return lowerAccessor(this, name, args, e);
      }
    }
    if (ts.isIdentifier(callee)) {
      const b = this.lookup(callee, scope);
      if (b.kind === 'fn') return this.inline(b, e, scope);
    }
    this.fail(e, `call of ${this.text(callee)}`, 'a compiled filter calls ctx accessors, Math.imul/min/max/abs, and functions of its own module (inlined)');
  }

  private math(name: string, e: ts.CallExpression, scope: Scope): Val {
    const args = e.arguments.map((a) => this.value(a, scope));
    if (args.some((a) => a.t !== 'num')) this.fail(e, `Math.${name} of a boolean`);
    if (name === 'imul' && args.length === 2) return this.binary('imul', args[0], args[1], e);
    if ((name === 'min' || name === 'max') && args.length >= 1) {
      let acc = args[0];
      for (const b of args.slice(1)) acc = this.select(name === 'min' ? 'slt' : 'sgt', acc, b, e);
      return acc;
    }
    if (name === 'abs' && args.length === 1) return this.select('sgt', args[0], this.binary('sub', { t: 'num', o: { k: 0n } }, args[0], e), e);
    this.fail(e, `Math.${name}(${args.length} arguments) is outside the compiled subset`, 'Math.imul, Math.min, Math.max, Math.abs compile');
  }

  /** a cc b ? a : b */
  private select(cc: Cond, a: Val, b: Val, node: ts.Node): Val {
    const ra = this.rangeOf(a.o);
    const rb = this.rangeOf(b.o);
    const t = decide(cc, ra, rb);
    if (t === true) return a;
    if (t === false) return b;
    const s = this.slot(node);
    const pick = this.label();
    const end = this.label();
    this.branch(cc, a.o, b.o, pick);
    this.mov(s, b.o);
    this.jump(end);
    this.place(pick);
    this.mov(s, a.o);
    this.place(end);
    this.release(a);
    this.release(b);
    return { t: 'num', o: { s }, tmp: true };
  }

  private inline(b: { decl: ts.FunctionLikeDeclaration; name: string }, e: ts.CallExpression, scope: Scope): Val {
    const f = b.decl;
    if (this.inlining.includes(b.name)) this.fail(e, `${b.name} calls itself (recursion)`, 'the kernel has no recursion: write a bounded loop');
    if (this.inlining.length >= MAX_INLINE_DEPTH) this.fail(e, `helpers nested more than ${MAX_INLINE_DEPTH} deep`);
    if (f.parameters.length !== e.arguments.length) this.fail(e, `${b.name} takes ${f.parameters.length} arguments, given ${e.arguments.length}`, 'pass every argument (defaults are outside the subset)');
    // Lexical scope: the helper sees the module, its parameters and its own locals.
    const inner: Scope = new Map(this.module);
    const owned: Val[] = [];
    f.parameters.forEach((p, i) => {
      if (!ts.isIdentifier(p.name) || p.dotDotDotToken) this.fail(p, 'only plain parameters');
      const arg = skipParens(e.arguments[i]);
      const ab = ts.isIdentifier(arg) ? scope.get(arg.text) : undefined;
      if (ab?.kind === 'ctx' || ab?.kind === 'map') {
        inner.set(p.name.text, ab);
        return;
      }
      const v = this.value(arg, scope);
      const mutable = f.body !== undefined && assigns(f.body, p.name.text);
      if (!mutable || (v.tmp === true && !isK(v.o))) {
        inner.set(p.name.text, { kind: 'val', v: { t: v.t, o: v.o }, mutable });
        if (v.tmp === true) owned.push(v);
        return;
      }
      const s = this.slot(p);
      this.mov(s, v.o);
      const pv: Val = { t: v.t, o: { s }, tmp: true };
      owned.push(pv);
      inner.set(p.name.text, { kind: 'val', v: pv, mutable: true });
    });
    const saved = this.fn;
    const result = this.slot(e);
    this.fn = { result, end: this.label(), ty: null, loops: [], name: b.name };
    this.inlining.push(b.name);
    this.body(f, inner);
    this.inlining.pop();
    if (this.cur !== null) this.fail(f, `${b.name} can end without returning a value`, 'return a value on every path (JS would give undefined)');
    const ty = this.fn.ty ?? 'num';
    this.place(this.fn.end);
    this.fn = saved;
    for (const v of owned) this.release(v);
    const r = this.rangeOf({ s: result });
    if (this.cur !== null && r.lo === r.hi) {
      this.free.push(result);
      return { t: ty, o: { k: r.lo } };
    }
    return { t: ty, o: { s: result }, tmp: true };
  }

  private conditional(e: ts.ConditionalExpression, scope: Scope): Val {
    const t = this.label();
    const f = this.label();
    const end = this.label();
    const s = this.slot(e);
    let ty: Ty | null = null;
    this.cond(e.condition, scope, t, f);
    for (const [l, x] of [
      [t, e.whenTrue],
      [f, e.whenFalse],
    ] as const) {
      this.place(l);
      if (this.cur === null) continue;
      const v = this.value(x, scope);
      if (ty !== null && ty !== v.t) this.fail(e, 'the two branches of ?: have different types');
      ty = v.t;
      this.mov(s, v.o);
      this.release(v);
      this.jump(end);
    }
    this.place(end);
    const r = this.rangeOf({ s });
    if (r.lo === r.hi && this.cur !== null) {
      this.free.push(s);
      return { t: ty ?? 'num', o: { k: r.lo } };
    }
    return { t: ty ?? 'num', o: { s }, tmp: true };
  }

  /** a && b, a || b as values (JS returns one of the operands). */
  private logical(e: ts.BinaryExpression, scope: Scope): Val {
    const and = e.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken;
    const s = this.slot(e);
    const end = this.label();
    const a = this.value(e.left, scope);
    this.mov(s, a.o);
    this.release(a);
    this.branch(and ? 'eq' : 'ne', { s }, { k: 0n }, end);
    const b = this.value(e.right, scope);
    if (a.t !== b.t) this.fail(e, `${and ? '&&' : '||'} of a ${a.t === 'bool' ? 'boolean' : 'number'} and a ${b.t === 'bool' ? 'boolean' : 'number'}`, 'JS returns one of the operands: give both the same type');
    this.mov(s, b.o);
    this.release(b);
    this.place(end);
    return { t: a.t, o: { s }, tmp: true };
  }

  private unary(e: ts.PrefixUnaryExpression, scope: Scope): Val {
    const op = e.operator;
    if (op === ts.SyntaxKind.ExclamationToken) return this.boolValue(e, scope);
    const a = this.value(e.operand, scope);
    if (a.t !== 'num') this.fail(e, 'arithmetic on a boolean', 'JS would turn it into 0/1: write b ? 1 : 0');
    if (op === ts.SyntaxKind.PlusToken) return a;
    if (op === ts.SyntaxKind.MinusToken) return this.binary('sub', { t: 'num', o: { k: 0n } }, a, e);
    if (op === ts.SyntaxKind.TildeToken) return this.binary('xor', a, { t: 'num', o: { k: -1n } }, e);
    this.fail(e, `${ts.tokenToString(op)} is outside the compiled subset`, '++/-- are statements of their own');
  }

  /**
   * a fn b with JS semantics on the subset. Arithmetic (+ - * %) is exact: refused where the
   * range could leave ±2^53. Bitwise operators and Math.imul work on ToInt32/ToUint32 of their
   * operands, as JS does: the 32-bit ALU, then sign extension for int32 results.
   */
  binary(fn: BinFn, a: Val, b: Val, node: ts.Node, into?: number): Val {
    if (a.t !== 'num' || b.t !== 'num') this.fail(node, 'arithmetic on a boolean', 'JS would turn it into 0/1: write b ? 1 : 0');
    const ra = this.rangeOf(a.o);
    const rb = this.rangeOf(b.o);
    let r: Range;
    let alu: AluFn;
    let w32 = false;
    let sext = false;
    let bo = b.o;
    switch (fn) {
      case 'add':
        r = range(ra.lo + rb.lo, ra.hi + rb.hi);
        alu = 'add';
        break;
      case 'sub':
        r = range(ra.lo - rb.hi, ra.hi - rb.lo);
        alu = 'sub';
        break;
      case 'mul': {
        const p = [ra.lo * rb.lo, ra.lo * rb.hi, ra.hi * rb.lo, ra.hi * rb.hi];
        r = range(min(...p), max(...p));
        alu = 'mul';
        break;
      }
      case 'mod':
        if (!isK(b.o) || b.o.k <= 0n) this.fail(node, 'x % y with y not a positive constant', 'JS % by zero is NaN and by a negative keeps odd signs: use a positive constant divisor');
        if (ra.lo < 0n) this.fail(node, `the dividend of % may be negative (range ${ra.lo}..${ra.hi}); JS % keeps its sign`, 'make it non-negative first (x >>> 0, or check x >= 0)');
        r = range(0n, min(ra.hi, b.o.k - 1n));
        alu = 'mod';
        break;
      case 'and':
      case 'or':
      case 'xor':
        alu = fn;
        w32 = true;
        r = bitRange(fn, ra, rb);
        sext = r.lo < 0n || r.hi > I32_MAX;
        if (sext) r = range(I32_MIN, I32_MAX);
        break;
      case 'imul':
        alu = 'mul';
        w32 = true;
        sext = true;
        r = range(I32_MIN, I32_MAX);
        break;
      case 'lsh':
      case 'arsh':
      case 'rsh': {
        alu = fn;
        w32 = true;
        if (isK(b.o)) bo = { k: b.o.k & 31n };
        const k = isK(bo) ? bo.k : null;
        if (fn === 'rsh') {
          // >>> : ToUint32(a) >>> k, an unsigned 32-bit result.
          const nonneg32 = ra.lo >= 0n && ra.hi <= U32_MAX;
          r = k !== null ? (nonneg32 ? range(ra.lo >> k, ra.hi >> k) : range(0n, U32_MAX >> k)) : range(0n, U32_MAX);
        } else if (fn === 'arsh') {
          const nonneg = ra.lo >= 0n && ra.hi <= I32_MAX;
          r = k !== null ? (nonneg ? range(ra.lo >> k, ra.hi >> k) : range(I32_MIN >> k, I32_MAX >> k)) : nonneg ? range(0n, ra.hi) : range(I32_MIN, I32_MAX);
          sext = !nonneg;
        } else {
          const fits = k !== null && ra.lo >= 0n && ra.hi << k <= I32_MAX;
          r = fits ? range(ra.lo << k!, ra.hi << k!) : range(I32_MIN, I32_MAX);
          sext = !fits;
        }
        break;
      }
    }
    if (r.lo < -MAX_SAFE || r.hi > MAX_SAFE)
      this.fail(node, `${this.text(node)} may leave ±2^53 (range ${r.lo}..${r.hi}), where JS numbers stop being exact integers`, 'bound the operands first (mask with & or >>> 0, compare), or use Math.imul for 32-bit wrapping multiplication');
    if (isK(a.o) && isK(bo)) return { t: 'num', o: { k: fold(fn, a.o.k, bo.k) } };
    if (r.lo === r.hi) {
      this.release(a);
      this.release(b);
      return { t: 'num', o: { k: r.lo } };
    }
    const d = into ?? (a.tmp === true && !isK(a.o) ? a.o.s : b.tmp === true && !isK(b.o) ? b.o.s : this.slot(node));
    this.emit({ op: 'alu', fn: alu, w32, sext, d, a: a.o, b: bo });
    if (a.tmp === true && !isK(a.o) && a.o.s !== d) this.release(a);
    if (b.tmp === true && !isK(b.o) && b.o.s !== d) this.release(b);
    this.setRange(d, r);
    return { t: 'num', o: { s: d }, tmp: into === undefined };
  }
}

export type BinFn = 'add' | 'sub' | 'mul' | 'mod' | 'and' | 'or' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'imul';

const BINARY: Partial<Record<ts.SyntaxKind, BinFn>> = {
  [ts.SyntaxKind.PlusToken]: 'add',
  [ts.SyntaxKind.MinusToken]: 'sub',
  [ts.SyntaxKind.AsteriskToken]: 'mul',
  [ts.SyntaxKind.PercentToken]: 'mod',
  [ts.SyntaxKind.AmpersandToken]: 'and',
  [ts.SyntaxKind.BarToken]: 'or',
  [ts.SyntaxKind.CaretToken]: 'xor',
  [ts.SyntaxKind.LessThanLessThanToken]: 'lsh',
  [ts.SyntaxKind.GreaterThanGreaterThanToken]: 'arsh',
  [ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken]: 'rsh',
};
const COMPOUND: Partial<Record<ts.SyntaxKind, BinFn>> = {
  [ts.SyntaxKind.PlusEqualsToken]: 'add',
  [ts.SyntaxKind.MinusEqualsToken]: 'sub',
  [ts.SyntaxKind.AsteriskEqualsToken]: 'mul',
  [ts.SyntaxKind.PercentEqualsToken]: 'mod',
  [ts.SyntaxKind.AmpersandEqualsToken]: 'and',
  [ts.SyntaxKind.BarEqualsToken]: 'or',
  [ts.SyntaxKind.CaretEqualsToken]: 'xor',
  [ts.SyntaxKind.LessThanLessThanEqualsToken]: 'lsh',
  [ts.SyntaxKind.GreaterThanGreaterThanEqualsToken]: 'arsh',
  [ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken]: 'rsh',
};
const COMPARE: Partial<Record<ts.SyntaxKind, Cond>> = {
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: 'eq',
  [ts.SyntaxKind.EqualsEqualsToken]: 'eq',
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: 'ne',
  [ts.SyntaxKind.ExclamationEqualsToken]: 'ne',
  [ts.SyntaxKind.LessThanToken]: 'slt',
  [ts.SyntaxKind.LessThanEqualsToken]: 'sle',
  [ts.SyntaxKind.GreaterThanToken]: 'sgt',
  [ts.SyntaxKind.GreaterThanEqualsToken]: 'sge',
};
const CTX_HINT: Record<string, string> = {
  ifindex: "ctx.ifindex is softnet's device index, which the kernel does not know",
  redirect: 'redirecting to a softnet device cannot run in the kernel: return XDP_PASS and redirect in JS (offload: js)',
  deviceIndex: 'device names are resolved at setup, not in the kernel',
  data: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  u8: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  dv: 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off) (offsets from the start of the frame, bounds-checked)',
  set: 'the hook points the context at frames, not the filter',
  redirectTo: 'redirects are outside the compiled subset',
};

export function skipParens(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

function isAssignOp(k: ts.SyntaxKind): boolean {
  return k >= ts.SyntaxKind.FirstAssignment && k <= ts.SyntaxKind.LastAssignment;
}

/** Does `node` assign to (or ++/-- ) the variable `name`? (Conservative: ignores shadowing.) */
function assigns(node: ts.Node, name: string): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isBinaryExpression(n) && isAssignOp(n.operatorToken.kind) && ts.isIdentifier(skipParens(n.left)) && (skipParens(n.left) as ts.Identifier).text === name) found = true;
    else if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && ts.isIdentifier(skipParens(n.operand)) && (skipParens(n.operand) as ts.Identifier).text === name)
      found = true;
    else ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

/** JS's result for constant operands (both exact integers within ±2^53 here). */
function fold(fn: BinFn, a: bigint, b: bigint): bigint {
  switch (fn) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'mod':
      return a % b;
    case 'and':
      return toInt32(toInt32(a) & toInt32(b));
    case 'or':
      return toInt32(toInt32(a) | toInt32(b));
    case 'xor':
      return toInt32(toInt32(a) ^ toInt32(b));
    case 'imul':
      return toInt32(toInt32(a) * toInt32(b));
    case 'lsh':
      return toInt32(toInt32(a) << (b & 31n));
    case 'arsh':
      return toInt32(a) >> (b & 31n);
    case 'rsh':
      return toUint32(a) >> (b & 31n);
  }
}

/** Range of a & | ^ b as JS int32, tight where both are small non-negatives. */
function bitRange(fn: 'and' | 'or' | 'xor', ra: Range, rb: Range): Range {
  const nn = (r: Range) => r.lo >= 0n && r.hi <= I32_MAX;
  if (fn === 'and') {
    // x & m with m a non-negative int32: the result is within [0, m] whatever x is.
    if (rb.lo === rb.hi && rb.lo >= 0n && rb.lo <= I32_MAX) return range(0n, rb.lo);
    if (ra.lo === ra.hi && ra.lo >= 0n && ra.lo <= I32_MAX) return range(0n, ra.lo);
    if (nn(ra) && nn(rb)) return range(0n, min(ra.hi, rb.hi));
    if (nn(ra)) return range(0n, ra.hi);
    if (nn(rb)) return range(0n, rb.hi);
    return range(I32_MIN, I32_MAX);
  }
  if (nn(ra) && nn(rb)) {
    const bits = BigInt(max(ra.hi, rb.hi).toString(2).length);
    return range(0n, (1n << bits) - 1n);
  }
  return range(I32_MIN, I32_MAX);
}

/** The outcome of a cc b when the ranges decide it, else null. */
function decide(cc: Cond, a: Range, b: Range): boolean | null {
  switch (cc) {
    case 'eq':
      if (a.lo === a.hi && b.lo === b.hi) return a.lo === b.lo;
      return a.hi < b.lo || b.hi < a.lo ? false : null;
    case 'ne': {
      const d = decide('eq', a, b);
      return d === null ? null : !d;
    }
    case 'slt':
      return a.hi < b.lo ? true : a.lo >= b.hi ? false : null;
    case 'sle':
      return a.hi <= b.lo ? true : a.lo > b.hi ? false : null;
    case 'sgt':
      return decide('slt', b, a);
    case 'sge':
      return decide('sle', b, a);
    case 'ugt':
    case 'uge':
      // Unsigned: only for non-negative ranges (the return clamp and the emitter's checks).
      if (a.lo < 0n || b.lo < 0n) return null;
      return cc === 'ugt' ? decide('sgt', a, b) : decide('sge', a, b);
  }
}

/** The opposite condition (ule/ult only for narrowing: the IR has no jumps on them). */
function negate(cc: Cond): string {
  return ({ eq: 'ne', ne: 'eq', slt: 'sge', sge: 'slt', sle: 'sgt', sgt: 'sle', ugt: 'ule', uge: 'ult' } as Record<Cond, string>)[cc];
}

/** Narrow the ranges in `st` for the path where a cc b holds. */
function narrow(st: State, cc: Cond | string, a: Opnd, b: Opnd, ra: Range, rb: Range): void {
  const set = (o: Opnd, r: Range) => {
    if (!isK(o) && r.lo <= r.hi) st.set(o.s, r);
  };
  switch (cc) {
    case 'eq': {
      const r = range(max(ra.lo, rb.lo), min(ra.hi, rb.hi));
      set(a, r);
      set(b, r);
      break;
    }
    case 'ne':
      if (rb.lo === rb.hi) set(a, range(ra.lo === rb.lo ? ra.lo + 1n : ra.lo, ra.hi === rb.lo ? ra.hi - 1n : ra.hi));
      if (ra.lo === ra.hi) set(b, range(rb.lo === ra.lo ? rb.lo + 1n : rb.lo, rb.hi === ra.lo ? rb.hi - 1n : rb.hi));
      break;
    case 'slt':
      set(a, range(ra.lo, min(ra.hi, rb.hi - 1n)));
      set(b, range(max(rb.lo, ra.lo + 1n), rb.hi));
      break;
    case 'sle':
      set(a, range(ra.lo, min(ra.hi, rb.hi)));
      set(b, range(max(rb.lo, ra.lo), rb.hi));
      break;
    case 'sgt':
      narrow(st, 'slt', b, a, rb, ra);
      break;
    case 'sge':
      narrow(st, 'sle', b, a, rb, ra);
      break;
    case 'ule':
    case 'ult':
      // a u<= b with a non-negative constant b: a is in [0, b] (negatives are huge unsigned).
      if (rb.lo === rb.hi && rb.lo >= 0n) set(a, range(max(ra.lo, 0n), min(ra.hi, cc === 'ult' ? rb.lo - 1n : rb.lo)));
      break;
    default:
      break; // ugt/uge: the values may be negative ones; leave them
  }
}

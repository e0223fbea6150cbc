// Expressions: conditions as jumps (short-circuit), literals, names, ctx.len/nowMs, table reads
// with their index proved in bounds, ?:, && || as values, unary operators, and the arithmetic
// and bitwise operators with JS semantics on ranges (binary). Calls are in lower-call.ts.
import ts from 'typescript';
import type { AluFn } from './ir.ts';
import { isK } from './ir.ts';
import { ACCESSORS, CTX_HINT } from './ctx-access.ts';
import { bitRange, fold, I32_MAX, I32_MIN, MAX_SAFE, max, min, range, U32_MAX, type BinFn, type Range } from './ranges.ts';
import { BINARY, COMPARE, isAssignOp, skipParens } from './syntax.ts';
import { call } from './lower-call.ts';
import type { Lowerer, Scope, Ty, Val } from './lower.ts';

/** Jump to t when e is truthy, to f otherwise; leaves the current point unreachable. */
export function cond(L: Lowerer, e: ts.Expression, scope: Scope, t: number, f: number): void {
  e = skipParens(e);
  if (L.cur === null) return;
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return cond(L, e.operand, scope, f, t);
  if (ts.isBinaryExpression(e)) {
    const k = e.operatorToken.kind;
    if (k === ts.SyntaxKind.AmpersandAmpersandToken || k === ts.SyntaxKind.BarBarToken) {
      const mid = L.label();
      if (k === ts.SyntaxKind.AmpersandAmpersandToken) cond(L, e.left, scope, mid, f);
      else cond(L, e.left, scope, t, mid);
      L.place(mid);
      cond(L, e.right, scope, t, f);
      return;
    }
    const cc = COMPARE[k];
    if (cc !== undefined) {
      const a = value(L, e.left, scope);
      const b = value(L, e.right, scope);
      L.at(e);
      if (a.t !== b.t) L.fail(e, `comparing a ${a.t === 'bool' ? 'boolean' : 'number'} with a ${b.t === 'bool' ? 'boolean' : 'number'}`);
      if (a.t === 'bool' && cc !== 'eq' && cc !== 'ne') L.fail(e, 'ordering booleans', 'compare numbers');
      L.branch(cc, a.o, b.o, t);
      L.release(a);
      L.release(b);
      L.jump(f);
      return;
    }
  }
  const v = value(L, e, scope);
  L.at(e);
  L.branch('ne', v.o, { k: 0n }, t);
  L.release(v);
  L.jump(f);
}

/** A boolean as a value: 1 or 0 in a slot. */
function boolValue(L: Lowerer, e: ts.Expression, scope: Scope): Val {
  const s = L.slot(e);
  const t = L.label();
  const f = L.label();
  const end = L.label();
  cond(L, e, scope, t, f);
  L.place(t);
  L.mov(s, { k: 1n });
  L.jump(end);
  L.place(f);
  L.mov(s, { k: 0n });
  L.place(end);
  const r = L.rangeOf({ s });
  if (r.lo === r.hi) {
    L.free.push(s);
    return { t: 'bool', o: { k: r.lo } };
  }
  return { t: 'bool', o: { s }, tmp: true };
}

// --- expressions ----------------------------------------------------------------------------

export function value(L: Lowerer, e: ts.Expression, scope: Scope): Val {
  e = skipParens(e);
  L.at(e);
  if (ts.isNumericLiteral(e)) {
    const n = Number(e.text);
    if (!Number.isSafeInteger(n)) L.fail(e, `${e.text} is not an integer within ±2^53`, 'a compiled filter computes with integers only');
    return { t: 'num', o: { k: BigInt(n) } };
  }
  if (e.kind === ts.SyntaxKind.TrueKeyword) return { t: 'bool', o: { k: 1n } };
  if (e.kind === ts.SyntaxKind.FalseKeyword) return { t: 'bool', o: { k: 0n } };
  if (ts.isIdentifier(e)) {
    const b = L.lookup(e, scope);
    if (b.kind === 'val') return b.v;
    if (b.kind === 'ctx') L.fail(e, 'the context as a value', 'call its accessors: ctx.ipProto(), ctx.l4Dport(), ctx.u16At(off)...');
    if (b.kind === 'table') L.fail(e, `table ${e.text} as a value`, `index it: ${e.text}[i]`);
    if (b.kind === 'map') L.fail(e, `map ${e.text} as a value`, `call its methods: ${e.text}.get(key), .has, .set, .delete`);
    L.fail(e, `function ${e.text} as a value`, 'call it');
  }
  if (ts.isPropertyAccessExpression(e)) return property(L, e, scope);
  if (ts.isElementAccessExpression(e)) return element(L, e, scope);
  if (ts.isCallExpression(e)) return call(L, e, scope);
  if (ts.isConditionalExpression(e)) return conditional(L, e, scope);
  if (ts.isPrefixUnaryExpression(e)) return unary(L, e, scope);
  if (ts.isBinaryExpression(e)) {
    const k = e.operatorToken.kind;
    if (COMPARE[k] !== undefined) return boolValue(L, e, scope);
    if (k === ts.SyntaxKind.AmpersandAmpersandToken || k === ts.SyntaxKind.BarBarToken) return logical(L, e, scope);
    if (isAssignOp(k)) L.fail(e, 'an assignment inside an expression', 'assign in a statement of its own');
    const fn = BINARY[k];
    if (fn === undefined) L.fail(e.operatorToken, `operator ${ts.tokenToString(k)} is outside the compiled subset`, k === ts.SyntaxKind.SlashToken ? 'JS / makes fractions: use >> for powers of two' : 'see src/bpf/README.md');
    const a = value(L, e.left, scope);
    const b = value(L, e.right, scope);
    return binary(L, fn, a, b, e);
  }
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isTemplateExpression(e)) L.fail(e, 'strings are outside the compiled subset');
  if (ts.isBigIntLiteral(e)) L.fail(e, 'BigInt is outside the compiled subset', 'use numbers within ±2^53');
  L.fail(e, `${ts.SyntaxKind[e.kind]} (${L.text(e)}) is outside the compiled subset`, 'see src/bpf/README.md for what compiles');
}

function property(L: Lowerer, e: ts.PropertyAccessExpression, scope: Scope): Val {
  const obj = skipParens(e.expression);
  const name = e.name.text;
  if (ts.isIdentifier(obj)) {
    const b = L.lookup(obj, scope);
    if (b.kind === 'table' && name === 'length') return { t: 'num', o: { k: BigInt(L.tables[b.table].values.length) } };
    if (b.kind === 'ctx') {
      if (name === 'len') {
        const s = L.slot(e);
        L.emit({ op: 'len', d: s });
        L.setRange(s, range(0n, 65535n));
        return { t: 'num', o: { s }, tmp: true };
      }
      if (name === 'nowMs') {
        // Whole milliseconds of CLOCK_MONOTONIC (the JS hook floors its clock the same way).
        const s = L.slot(e);
        L.emit({ op: 'now', d: s });
        L.setRange(s, range(0n, 2n ** 50n));
        return { t: 'num', o: { s }, tmp: true };
      }
      if (ACCESSORS.has(name)) L.fail(e, `ctx.${name} is a method`, `call it: ctx.${name}()`);
      L.fail(e, `ctx.${name} has no kernel equivalent in the compiled subset`, CTX_HINT[name] ?? 'a compiled filter reads the frame through ctx accessors: ctx.ipProto(), ctx.u16At(off)...');
    }
  }
  L.fail(e, `property ${L.text(e)} is outside the compiled subset`, 'see src/bpf/README.md');
}

function element(L: Lowerer, e: ts.ElementAccessExpression, scope: Scope): Val {
  const obj = skipParens(e.expression);
  const b = ts.isIdentifier(obj) ? L.lookup(obj, scope) : null;
  if (b?.kind !== 'table') L.fail(e, `indexing ${L.text(obj)}`, b?.kind === 'ctx' ? 'read the frame with ctx.u8At(off), ctx.u16At(off), ctx.u32At(off)' : 'only module-level constant tables can be indexed');
  const t = L.tables[b.table];
  const idx = value(L, e.argumentExpression, scope);
  if (idx.t !== 'num') L.fail(e.argumentExpression, 'a boolean index');
  const r = L.rangeOf(idx.o);
  const n = BigInt(t.values.length);
  if (r.lo < 0n || r.hi >= n)
    L.fail(
      e.argumentExpression,
      `index ${L.text(e.argumentExpression)} may be outside ${t.name} (its range is ${r.lo}..${r.hi}, the table has ${n} elements; JS would read undefined)`,
      `check it first (if (i >= 0 && i < ${t.name}.length)) or mask it (i & ${n - 1n} for a power-of-two table)`,
    );
  if (isK(idx.o)) return { t: 'num', o: { k: t.values[Number(idx.o.k)] } };
  L.at(e);
  const s = L.slot(e);
  L.emit({ op: 'tbl', d: s, table: b.table, idx: idx.o });
  L.release(idx);
  L.setRange(s, range(min(...t.values), max(...t.values)));
  return { t: 'num', o: { s }, tmp: true };
}

function conditional(L: Lowerer, e: ts.ConditionalExpression, scope: Scope): Val {
  const t = L.label();
  const f = L.label();
  const end = L.label();
  const s = L.slot(e);
  let ty: Ty | null = null;
  cond(L, e.condition, scope, t, f);
  for (const [l, x] of [
    [t, e.whenTrue],
    [f, e.whenFalse],
  ] as const) {
    L.place(l);
    if (L.cur === null) continue;
    const v = value(L, x, scope);
    if (ty !== null && ty !== v.t) L.fail(e, 'the two branches of ?: have different types');
    ty = v.t;
    L.mov(s, v.o);
    L.release(v);
    L.jump(end);
  }
  L.place(end);
  const r = L.rangeOf({ s });
  if (r.lo === r.hi && L.cur !== null) {
    L.free.push(s);
    return { t: ty ?? 'num', o: { k: r.lo } };
  }
  return { t: ty ?? 'num', o: { s }, tmp: true };
}

/** a && b, a || b as values (JS returns one of the operands). */
function logical(L: Lowerer, e: ts.BinaryExpression, scope: Scope): Val {
  const and = e.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken;
  const s = L.slot(e);
  const end = L.label();
  const a = value(L, e.left, scope);
  L.mov(s, a.o);
  L.release(a);
  L.branch(and ? 'eq' : 'ne', { s }, { k: 0n }, end);
  const b = value(L, e.right, scope);
  if (a.t !== b.t) L.fail(e, `${and ? '&&' : '||'} of a ${a.t === 'bool' ? 'boolean' : 'number'} and a ${b.t === 'bool' ? 'boolean' : 'number'}`, 'JS returns one of the operands: give both the same type');
  L.mov(s, b.o);
  L.release(b);
  L.place(end);
  return { t: a.t, o: { s }, tmp: true };
}

function unary(L: Lowerer, e: ts.PrefixUnaryExpression, scope: Scope): Val {
  const op = e.operator;
  if (op === ts.SyntaxKind.ExclamationToken) return boolValue(L, e, scope);
  const a = value(L, e.operand, scope);
  if (a.t !== 'num') L.fail(e, 'arithmetic on a boolean', 'JS would turn it into 0/1: write b ? 1 : 0');
  if (op === ts.SyntaxKind.PlusToken) return a;
  if (op === ts.SyntaxKind.MinusToken) return binary(L, 'sub', { t: 'num', o: { k: 0n } }, a, e);
  if (op === ts.SyntaxKind.TildeToken) return binary(L, 'xor', a, { t: 'num', o: { k: -1n } }, e);
  L.fail(e, `${ts.tokenToString(op)} is outside the compiled subset`, '++/-- are statements of their own');
}

/**
 * a fn b with JS semantics on the subset. Arithmetic (+ - * %) is exact: refused where the
 * range could leave ±2^53. Bitwise operators and Math.imul work on ToInt32/ToUint32 of their
 * operands, as JS does: the 32-bit ALU, then sign extension for int32 results.
 */
export function binary(L: Lowerer, fn: BinFn, a: Val, b: Val, node: ts.Node, into?: number): Val {
  if (a.t !== 'num' || b.t !== 'num') L.fail(node, 'arithmetic on a boolean', 'JS would turn it into 0/1: write b ? 1 : 0');
  const ra = L.rangeOf(a.o);
  const rb = L.rangeOf(b.o);
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
      if (!isK(b.o) || b.o.k <= 0n) L.fail(node, 'x % y with y not a positive constant', 'JS % by zero is NaN and by a negative keeps odd signs: use a positive constant divisor');
      if (ra.lo < 0n) L.fail(node, `the dividend of % may be negative (range ${ra.lo}..${ra.hi}); JS % keeps its sign`, 'make it non-negative first (x >>> 0, or check x >= 0)');
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
    L.fail(node, `${L.text(node)} may leave ±2^53 (range ${r.lo}..${r.hi}), where JS numbers stop being exact integers`, 'bound the operands first (mask with & or >>> 0, compare), or use Math.imul for 32-bit wrapping multiplication');
  if (isK(a.o) && isK(bo)) return { t: 'num', o: { k: fold(fn, a.o.k, bo.k) } };
  if (r.lo === r.hi) {
    L.release(a);
    L.release(b);
    return { t: 'num', o: { k: r.lo } };
  }
  const d = into ?? (a.tmp === true && !isK(a.o) ? a.o.s : b.tmp === true && !isK(b.o) ? b.o.s : L.slot(node));
  L.emit({ op: 'alu', fn: alu, w32, sext, d, a: a.o, b: bo });
  if (a.tmp === true && !isK(a.o) && a.o.s !== d) L.release(a);
  if (b.tmp === true && !isK(b.o) && b.o.s !== d) L.release(b);
  L.setRange(d, r);
  return { t: 'num', o: { s: d }, tmp: into === undefined };
}

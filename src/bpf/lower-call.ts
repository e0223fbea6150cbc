// Calls: ctx accessors (ctx-access.ts), map methods (maps-lower.ts), Math.imul/min/max/abs, and
// the module's own helpers, inlined at each call in their lexical scope (no recursion).
import ts from 'typescript';
import type { Cond } from './ir.ts';
import { isK } from './ir.ts';
import { lowerMapCall } from './maps-lower.ts';
import { ACCESSORS, CTX_HINT, lowerAccessor } from './ctx-access.ts';
import { decide } from './ranges.ts';
import { assigns, skipParens } from './syntax.ts';
import type { Lowerer, Scope, Val } from './lower.ts';

const MAX_INLINE_DEPTH = 16;

export function call(L: Lowerer, e: ts.CallExpression, scope: Scope): Val {
  const callee = skipParens(e.expression);
  if (ts.isPropertyAccessExpression(callee)) {
    const obj = skipParens(callee.expression);
    const name = callee.name.text;
    if (ts.isIdentifier(obj) && obj.text === 'Math' && !scope.has('Math')) return math(L, name, e, scope);
    const mb = ts.isIdentifier(obj) ? L.lookup(obj, scope) : null;
    if (mb?.kind === 'map') return lowerMapCall(L, mb.map, name, e, scope);
    if (ts.isIdentifier(obj) && L.lookup(obj, scope).kind === 'ctx') {
      if (!ACCESSORS.has(name)) L.fail(e, `ctx.${name}() has no kernel equivalent in the compiled subset`, CTX_HINT[name] ?? 'see src/bpf/README.md for the accessors that compile');
      const args = e.arguments.map((a) => L.value(a, scope));
      L.at(e);
      return lowerAccessor(L, name, args, e);
    }
  }
  if (ts.isIdentifier(callee)) {
    const b = L.lookup(callee, scope);
    if (b.kind === 'fn') return inline(L, b, e, scope);
  }
  L.fail(e, `call of ${L.text(callee)}`, 'a compiled filter calls ctx accessors, Math.imul/min/max/abs, and functions of its own module (inlined)');
}

function math(L: Lowerer, name: string, e: ts.CallExpression, scope: Scope): Val {
  const args = e.arguments.map((a) => L.value(a, scope));
  if (args.some((a) => a.t !== 'num')) L.fail(e, `Math.${name} of a boolean`);
  if (name === 'imul' && args.length === 2) return L.binary('imul', args[0], args[1], e);
  if ((name === 'min' || name === 'max') && args.length >= 1) {
    let acc = args[0];
    for (const b of args.slice(1)) acc = select(L, name === 'min' ? 'slt' : 'sgt', acc, b, e);
    return acc;
  }
  if (name === 'abs' && args.length === 1) return select(L, 'sgt', args[0], L.binary('sub', { t: 'num', o: { k: 0n } }, args[0], e), e);
  L.fail(e, `Math.${name}(${args.length} arguments) is outside the compiled subset`, 'Math.imul, Math.min, Math.max, Math.abs compile');
}

/** a cc b ? a : b */
function select(L: Lowerer, cc: Cond, a: Val, b: Val, node: ts.Node): Val {
  const ra = L.rangeOf(a.o);
  const rb = L.rangeOf(b.o);
  const t = decide(cc, ra, rb);
  if (t === true) return a;
  if (t === false) return b;
  const s = L.slot(node);
  const pick = L.label();
  const end = L.label();
  L.branch(cc, a.o, b.o, pick);
  L.mov(s, b.o);
  L.jump(end);
  L.place(pick);
  L.mov(s, a.o);
  L.place(end);
  L.release(a);
  L.release(b);
  return { t: 'num', o: { s }, tmp: true };
}

function inline(L: Lowerer, b: { decl: ts.FunctionLikeDeclaration; name: string }, e: ts.CallExpression, scope: Scope): Val {
  const f = b.decl;
  if (L.inlining.includes(b.name)) L.fail(e, `${b.name} calls itself (recursion)`, 'the kernel has no recursion: write a bounded loop');
  if (L.inlining.length >= MAX_INLINE_DEPTH) L.fail(e, `helpers nested more than ${MAX_INLINE_DEPTH} deep`);
  if (f.parameters.length !== e.arguments.length) L.fail(e, `${b.name} takes ${f.parameters.length} arguments, given ${e.arguments.length}`, 'pass every argument (defaults are outside the subset)');
  // Lexical scope: the helper sees the module, its parameters and its own locals.
  const inner: Scope = new Map(L.module);
  const owned: Val[] = [];
  f.parameters.forEach((p, i) => {
    if (!ts.isIdentifier(p.name) || p.dotDotDotToken) L.fail(p, 'only plain parameters');
    const arg = skipParens(e.arguments[i]);
    const ab = ts.isIdentifier(arg) ? scope.get(arg.text) : undefined;
    if (ab?.kind === 'ctx' || ab?.kind === 'map') {
      inner.set(p.name.text, ab);
      return;
    }
    const v = L.value(arg, scope);
    const mutable = f.body !== undefined && assigns(f.body, p.name.text);
    if (!mutable || (v.tmp === true && !isK(v.o))) {
      inner.set(p.name.text, { kind: 'val', v: { t: v.t, o: v.o }, mutable });
      if (v.tmp === true) owned.push(v);
      return;
    }
    const s = L.slot(p);
    L.mov(s, v.o);
    const pv: Val = { t: v.t, o: { s }, tmp: true };
    owned.push(pv);
    inner.set(p.name.text, { kind: 'val', v: pv, mutable: true });
  });
  const saved = L.fn;
  const result = L.slot(e);
  L.fn = { result, end: L.label(), ty: null, loops: [], name: b.name };
  L.inlining.push(b.name);
  L.body(f, inner);
  L.inlining.pop();
  if (L.cur !== null) L.fail(f, `${b.name} can end without returning a value`, 'return a value on every path (JS would give undefined)');
  const ty = L.fn.ty ?? 'num';
  L.place(L.fn.end);
  L.fn = saved;
  for (const v of owned) L.release(v);
  const r = L.rangeOf({ s: result });
  if (L.cur !== null && r.lo === r.hi) {
    L.free.push(result);
    return { t: ty, o: { k: r.lo } };
  }
  return { t: ty, o: { s: result }, tmp: true };
}

// Statements: blocks and their scopes, const/let, assignment and compound assignment, if/else,
// return (a verdict from the filter, a value from an inlined helper), and loops with constant
// bounds, unrolled with the counter a constant in each copy.
import ts from 'typescript';
import { XDP_ABORTED } from '../core/xdp-helpers.ts';
import { isK } from './ir.ts';
import { assigns, COMPOUND, isAssignOp, skipParens } from './syntax.ts';
import type { Lowerer, Scope, Val } from './lower.ts';

const MAX_TRIPS = 4096;

export function body(L: Lowerer, f: ts.FunctionLikeDeclaration, scope: Scope): void {
  const b = f.body;
  if (b === undefined) L.fail(f, 'function without a body');
  if (ts.isBlock(b)) block(L, b.statements, scope);
  else ret(L, b as ts.Expression, scope, b);
}

function block(L: Lowerer, sts: readonly ts.Statement[], outer: Scope): void {
  const scope: Scope = new Map(outer);
  const locals: Val[] = [];
  for (const st of sts) {
    if (L.cur === null) break; // unreachable: JS never runs it either
    stmt(L, st, scope, locals);
  }
  for (const v of locals) {
    v.tmp = true;
    L.release(v);
  }
}

function stmt(L: Lowerer, st: ts.Statement, scope: Scope, locals: Val[]): void {
  L.at(st);
  if (ts.isVariableStatement(st)) return decl(L, st.declarationList, scope, locals);
  if (ts.isExpressionStatement(st)) return exprStmt(L, st.expression, scope);
  if (ts.isIfStatement(st)) {
    const t = L.label();
    const f = L.label();
    const end = L.label();
    L.cond(st.expression, scope, t, f);
    L.place(t);
    if (L.cur !== null) sub(L, st.thenStatement, scope);
    L.jump(end);
    L.place(f);
    if (st.elseStatement && L.cur !== null) sub(L, st.elseStatement, scope);
    L.place(end);
    return;
  }
  if (ts.isReturnStatement(st)) {
    if (!st.expression) L.fail(st, 'return without a value', 'return a verdict (XDP_PASS, XDP_DROP, ...)');
    return ret(L, st.expression, scope, st);
  }
  if (ts.isBlock(st)) return block(L, st.statements, scope);
  if (ts.isForStatement(st)) return forLoop(L, st, scope);
  if (ts.isForOfStatement(st)) return forOf(L, st, scope);
  if (ts.isBreakStatement(st) || ts.isContinueStatement(st)) {
    if (st.label) L.fail(st, 'labelled break/continue', 'use an unlabelled break/continue or a helper function that returns');
    const l = L.fn.loops[L.fn.loops.length - 1];
    if (!l) L.fail(st, `${ts.isBreakStatement(st) ? 'break' : 'continue'} outside a loop`);
    return L.jump(ts.isBreakStatement(st) ? l.brk : l.cont);
  }
  if (ts.isEmptyStatement(st)) return;
  if (ts.isWhileStatement(st) || ts.isDoStatement(st))
    L.fail(st, 'while/do loops have no bound the compiler can see', 'use for (let i = 0; i < N; i++) with a constant N (the kernel verifier needs bounded loops)');
  if (ts.isSwitchStatement(st)) L.fail(st, 'switch is outside the compiled subset', 'use if / else if');
  if (ts.isFunctionDeclaration(st)) L.fail(st, 'a function declared inside the filter', 'declare helpers at module level (they are inlined)');
  if (ts.isTryStatement(st) || ts.isThrowStatement(st)) L.fail(st, 'exceptions are outside the compiled subset', 'return XDP_ABORTED instead of throwing');
  L.fail(st, `${ts.SyntaxKind[st.kind]} is outside the compiled subset`, 'see src/bpf/README.md for what compiles');
}

/** A nested statement in its own block scope. */
function sub(L: Lowerer, st: ts.Statement, scope: Scope): void {
  if (ts.isBlock(st)) block(L, st.statements, scope);
  else block(L, [st], scope);
}

function ret(L: Lowerer, e: ts.Expression, scope: Scope, node: ts.Node): void {
  const v = L.value(e, scope);
  L.at(node);
  const f = L.fn;
  if (f.ty !== null && f.ty !== v.t) L.fail(e, `returns a ${v.t === 'bool' ? 'boolean' : 'number'} where ${f.name} returns ${f.ty === 'bool' ? 'booleans' : 'numbers'}`, f.result === null ? 'a filter returns a verdict: XDP_PASS, XDP_DROP, XDP_TX or XDP_ABORTED' : 'return one type');
  f.ty = v.t;
  if (f.result === null) {
    // Anything but a verdict is counted as XDP_ABORTED by the JS hook; the kernel must agree.
    const r = L.rangeOf(v.o);
    if (r.lo < 0n || r.hi > 4n) {
      const bad = L.label();
      L.branch('ugt', v.o, { k: 4n }, bad);
      L.emit({ op: 'ret', a: v.o });
      L.cur = null;
      L.place(bad);
      L.emit({ op: 'ret', a: { k: BigInt(XDP_ABORTED) } });
    } else L.emit({ op: 'ret', a: v.o });
    L.cur = null;
  } else {
    L.mov(f.result, v.o);
    L.jump(f.end);
  }
  L.release(v);
}

function decl(L: Lowerer, list: ts.VariableDeclarationList, scope: Scope, locals: Val[]): void {
  const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
  if (!isConst && (list.flags & ts.NodeFlags.Let) === 0) L.fail(list, 'var is outside the compiled subset', 'use const or let');
  for (const d of list.declarations) {
    if (!ts.isIdentifier(d.name)) L.fail(d.name, 'destructuring is outside the compiled subset', 'declare one variable at a time');
    if (!d.initializer) L.fail(d, `${d.name.text} has no initial value`, 'initialize it (JS would start it as undefined)');
    L.at(d);
    const v = L.value(d.initializer, scope);
    let bound: Val;
    if (isK(v.o) && isConst) bound = v;
    else if (v.tmp === true) {
      bound = { t: v.t, o: v.o };
      locals.push(bound);
    } else {
      // A copy: the binding must not follow later changes of the variable it came from.
      const s = L.slot(d);
      L.mov(s, v.o);
      bound = { t: v.t, o: { s } };
      locals.push(bound);
    }
    scope.set(d.name.text, { kind: 'val', v: bound, mutable: !isConst });
  }
}

function exprStmt(L: Lowerer, e: ts.Expression, scope: Scope): void {
  e = skipParens(e);
  if (ts.isBinaryExpression(e) && isAssignOp(e.operatorToken.kind)) return assign(L, e.left, e.operatorToken.kind, e.right, scope, e);
  if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken))
    return assign(L, e.operand, e.operator === ts.SyntaxKind.PlusPlusToken ? ts.SyntaxKind.PlusEqualsToken : ts.SyntaxKind.MinusEqualsToken, ts.factory.createNumericLiteral(1), scope, e);
  if (ts.isCallExpression(e)) {
    L.stmtCall = e;
    const v = L.value(e, scope);
    L.release(v);
    return;
  }
  L.fail(e, `the expression statement ${L.text(e)} does nothing the compiler supports`, 'assignments, ++/--, and calls are statements');
}

function assign(L: Lowerer, target: ts.Expression, op: ts.SyntaxKind, rhs: ts.Expression, scope: Scope, node: ts.Node): void {
  target = skipParens(target);
  if (ts.isElementAccessExpression(target)) L.fail(target, 'writing to a table', 'tables are constant in a compiled filter; state across packets needs kernel maps (defineMap from softnet/xdp)');
  if (!ts.isIdentifier(target)) L.fail(target, `assignment to ${L.text(target)}`, 'only local let variables can be assigned');
  const b = L.lookup(target, scope);
  if (b.kind !== 'val' || !b.mutable || isK(b.v.o)) L.fail(target, `${target.text} is not a local let variable`, 'only local let variables can be assigned (module-level state needs kernel maps)');
  const d = b.v.o.s;
  L.at(node);
  if (op === ts.SyntaxKind.EqualsToken) {
    const v = L.value(rhs, scope);
    if (v.t !== b.v.t) L.fail(rhs, `assigning a ${v.t === 'bool' ? 'boolean' : 'number'} to ${target.text}, a ${b.v.t === 'bool' ? 'boolean' : 'number'}`);
    L.mov(d, v.o);
    L.release(v);
    return;
  }
  const bin = COMPOUND[op];
  if (bin === undefined) L.fail(node, `${ts.tokenToString(op)} is outside the compiled subset`);
  const r = L.value(rhs, scope);
  const v = L.binary(bin, b.v, r, node, d);
  if (!isK(v.o) && v.o.s === d) return;
  L.mov(d, v.o);
  L.release(v);
}

function forLoop(L: Lowerer, st: ts.ForStatement, scope: Scope): void {
  const bad = (why: string): never =>
    L.fail(st, `this for loop is not one the compiler can bound (${why})`, 'write for (let i = A; i < B; i++) (or <=, >, >=, i--, i += k) with constant A, B, k and no assignment to i in the body');
  const init = st.initializer;
  if (!init || !ts.isVariableDeclarationList(init) || init.declarations.length !== 1) bad('one let counter');
  const decl = (init as ts.VariableDeclarationList).declarations[0];
  if (!ts.isIdentifier(decl.name) || !decl.initializer) bad('one let counter with a start value');
  const name = (decl.name as ts.Identifier).text;
  const start = constOf(L, decl.initializer!, scope);
  const c = st.condition ? skipParens(st.condition) : null;
  if (!c || !ts.isBinaryExpression(c) || !ts.isIdentifier(c.left) || c.left.text !== name) bad(`condition ${name} < constant`);
  const cop = (c as ts.BinaryExpression).operatorToken.kind;
  const limit = constOf(L, (c as ts.BinaryExpression).right, scope);
  const inc = st.incrementor ? skipParens(st.incrementor) : null;
  let step = 0n;
  if (inc && (ts.isPostfixUnaryExpression(inc) || ts.isPrefixUnaryExpression(inc)) && ts.isIdentifier(inc.operand) && inc.operand.text === name)
    step = inc.operator === ts.SyntaxKind.PlusPlusToken ? 1n : inc.operator === ts.SyntaxKind.MinusMinusToken ? -1n : 0n;
  else if (inc && ts.isBinaryExpression(inc) && ts.isIdentifier(inc.left) && inc.left.text === name) {
    const k = constOf(L, inc.right, scope);
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
  unroll(L, iters, name, st.statement, scope);
}

function forOf(L: Lowerer, st: ts.ForOfStatement, scope: Scope): void {
  const init = st.initializer;
  if (!ts.isVariableDeclarationList(init) || init.declarations.length !== 1 || !ts.isIdentifier(init.declarations[0].name))
    L.fail(st, 'for...of needs one const element variable', 'for (const x of TABLE)');
  const name = (init.declarations[0].name as ts.Identifier).text;
  const src = skipParens(st.expression);
  const b = ts.isIdentifier(src) ? L.lookup(src, scope) : null;
  if (b?.kind !== 'table') L.fail(st.expression, `for...of over ${L.text(st.expression)}`, 'for...of runs over a module-level constant table');
  if (assigns(st.statement, name)) L.fail(st, `${name} is assigned in the body`);
  unroll(L, L.tables[b.table].values, name, st.statement, scope);
}

/** The loop body once per value of the counter, the counter a constant in each copy. */
function unroll(L: Lowerer, iters: bigint[], name: string, body: ts.Statement, scope: Scope): void {
  const brk = L.label();
  for (const i of iters) {
    if (L.cur === null) break;
    const cont = L.label();
    const inner: Scope = new Map(scope);
    inner.set(name, { kind: 'val', v: { t: 'num', o: { k: i } }, mutable: false });
    L.fn.loops.push({ brk, cont });
    sub(L, body, inner);
    L.fn.loops.pop();
    L.place(cont);
  }
  L.place(brk);
}

function constOf(L: Lowerer, e: ts.Expression, scope: Scope): bigint {
  const v = L.value(e, scope);
  if (!isK(v.o) || v.t !== 'num') L.fail(e, `${L.text(e)} is not a compile-time constant`, 'loop bounds and steps must be constants (literals, module-level consts, TABLE.length)');
  return v.o.k;
}

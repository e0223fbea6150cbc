// The module around the filter: imports from softnet/xdp bound to their constants, module-level
// consts evaluated (folded) when the filter first uses them, constant tables laid out for the
// rodata map, defineMap consts declared in source order, helpers bound for inlining, the
// default export resolved to the filter function, and the accessors' parse prepared.
import ts from 'typescript';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX } from '../core/xdp-helpers.ts';
import { BpfCompileError } from './errors.ts';
import { isK } from './ir.ts';
import { mapDef } from './maps-lower.ts';
import { L2_ACCESSORS, L3_ACCESSORS } from './ctx-access.ts';
import { I32_MAX, I32_MIN, max, min, U32_MAX } from './ranges.ts';
import { isAssignOp, skipParens } from './syntax.ts';
import type { Binding, Lowerer, Scope, Val } from './lower.ts';

/** Names a filter may import from softnet/xdp, with their values. */
const XDP_CONSTANTS: Record<string, number> = { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN };
const XDP_MODULE = /(^softnet\/xdp$|\/xdp(\.ts|\.js)?$|\/xdp-(helpers|map)(\.ts|\.js)?$)/;

export function resolveFilter(L: Lowerer, e: ts.Expression): ts.FunctionLikeDeclaration {
  e = skipParens(e);
  if (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return e;
  if (ts.isIdentifier(e)) {
    const b = L.module.get(e.text);
    if (b?.kind === 'fn') return b.decl;
    L.fail(e, `the default export ${e.text} is not a function declared in this module`, 'export the filter function itself');
  }
  if (ts.isCallExpression(e))
    L.fail(
      e,
      `the default export is the result of a call (${L.text(e.expression)}(...)), a filter built at run time`,
      "a compiled filter's default export must be the filter function itself: `export default (ctx: XdpContext) => ...` with its tables as module-level consts (state kept in closures needs kernel maps: a module-level const m = defineMap({...}) from softnet/xdp)",
    );
  L.fail(e, `the default export (${L.text(e)}) is not a function`, '`export default (ctx: XdpContext) => verdict`');
}

export function bindImport(L: Lowerer, st: ts.ImportDeclaration): void {
  const from = (st.moduleSpecifier as ts.StringLiteral).text;
  const named = st.importClause?.namedBindings;
  const xdp = XDP_MODULE.test(from);
  if (st.importClause?.name) L.module.set(st.importClause.name.text, { kind: 'refuse', what: `${st.importClause.name.text} is imported from ${from}`, hint: 'a compiled filter sees only its own module and the constants of softnet/xdp: copy what it needs into the module', node: st });
  if (named && ts.isNamespaceImport(named)) L.module.set(named.name.text, { kind: 'refuse', what: `namespace import ${named.name.text}`, hint: 'import the names: import { XDP_DROP, XDP_PASS } from "softnet/xdp"', node: named });
  if (!named || !ts.isNamedImports(named)) return;
  for (const el of named.elements) {
    const name = el.name.text;
    const orig = (el.propertyName ?? el.name).text;
    if (xdp && orig === 'defineMap') L.module.set(name, { kind: 'defineMap' });
    else if (xdp && orig in XDP_CONSTANTS) L.module.set(name, { kind: 'val', v: { t: 'num', o: { k: BigInt(XDP_CONSTANTS[orig]) } }, mutable: false });
    else
      L.module.set(name, {
        kind: 'refuse',
        what: `${name} is imported from ${from}`,
        hint: xdp ? 'of softnet/xdp a compiled filter uses the XDP_* and TCP_* constants and XdpContext' : 'a compiled filter sees only its own module and softnet/xdp: copy what it needs into the module',
        node: el,
      });
  }
}

export function bindModuleVars(L: Lowerer, st: ts.VariableStatement): void {
  const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
  for (const d of st.declarationList.declarations) {
    if (!ts.isIdentifier(d.name)) continue;
    const name = d.name.text;
    L.moduleDecl.set(name, d);
    if (!isConst) {
      L.module.set(name, { kind: 'refuse', what: `module-level ${name} is mutable (let/var): state shared across packets`, hint: 'make it a const, or keep state in a kernel map (defineMap from softnet/xdp); or run this filter with offload: js', node: d });
      continue;
    }
    const init = d.initializer ? skipParens(d.initializer) : undefined;
    if (init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) {
      L.module.set(name, { kind: 'fn', decl: init, name });
      continue;
    }
    // Maps are declared now, in source order: the module's defineMap calls pair with them by order.
    if (init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) && L.module.get(init.expression.text)?.kind === 'defineMap') {
      L.maps.push(mapDef(L, name, init));
      L.module.set(name, { kind: 'map', map: L.maps.length - 1 });
      continue;
    }
    // Evaluated when the filter first uses it: unrelated module code never blocks compiling.
    L.module.set(name, { kind: 'refuse', what: '', hint: '', node: d });
  }
}

/** A module-level const, evaluated on first use. */
function moduleConst(L: Lowerer, name: string, d: ts.VariableDeclaration, use: ts.Node): Binding {
  if (!d.initializer) L.fail(use, `${name} has no initializer`);
  const init = skipParens(d.initializer);
  const table = tableValues(L, name, init);
  let b: Binding;
  if (table !== null) {
    checkNotWritten(L, name, use);
    b = { kind: 'table', table: addTable(L, name, table.size, table.signed, table.values) };
  } else {
    const k = constEval(L, init);
    if (k === null)
      L.fail(use, `${name} (${L.text(init)}) is not a compile-time integer constant or constant table`, 'module-level values a compiled filter uses must be integer literals, expressions of them, or array/typed-array literals of them');
    b = { kind: 'val', v: k, mutable: false };
  }
  L.module.set(name, b);
  return b;
}

function checkNotWritten(L: Lowerer, name: string, use: ts.Node): void {
  const visit = (n: ts.Node): void => {
    if (ts.isBinaryExpression(n) && isAssignOp(n.operatorToken.kind) && ts.isElementAccessExpression(skipParens(n.left))) {
      const t = skipParens((skipParens(n.left) as ts.ElementAccessExpression).expression);
      if (ts.isIdentifier(t) && t.text === name) failAt(L, n, use, name);
    }
    if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken) && ts.isElementAccessExpression(skipParens(n.operand))) {
      const t = skipParens((skipParens(n.operand) as ts.ElementAccessExpression).expression);
      if (ts.isIdentifier(t) && t.text === name) failAt(L, n, use, name);
    }
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && ts.isIdentifier(n.expression.expression) && n.expression.expression.text === name && /^(set|fill|copyWithin|sort|reverse|push|pop|shift|unshift|splice)$/.test(n.expression.name.text))
      failAt(L, n, use, name);
    ts.forEachChild(n, visit);
  };
  visit(L.sf);
}

function failAt(L: Lowerer, write: ts.Node, _use: ts.Node, name: string): never {
  L.fail(write, `table ${name} is modified here; a compiled filter's tables are constant`, 'keep the table constant, or keep changing state in a kernel map (defineMap from softnet/xdp); or run this filter with offload: js');
}

function tableValues(L: Lowerer, name: string, e: ts.Expression): { size: 1 | 2 | 4 | 8; signed: boolean; values: bigint[] } | null {
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
      const n = constEval(L, a);
      if (n === null || !isK(n.o) || n.o.k < 0n || n.o.k > 65536n) L.fail(a, `${typed}(${L.text(a)}): a compiled table is built from an array literal or a constant length`);
      zeros = Number(n.o.k);
      elems = [];
    }
  } else return null;
  const values: bigint[] = [];
  for (const x of elems) {
    if (ts.isSpreadElement(x) || ts.isOmittedExpression(x)) L.fail(x, `table ${name}: only constant integer elements`);
    const v = constEval(L, x);
    if (v === null || v.t !== 'num' || !isK(v.o)) L.fail(x, `table ${name}: element ${L.text(x)} is not a compile-time integer constant`);
    values.push(v.o.k);
  }
  for (let i = 0; i < zeros; i++) values.push(0n);
  if (values.length === 0) L.fail(e, `table ${name} is empty`);
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

function addTable(L: Lowerer, name: string, size: 1 | 2 | 4 | 8, signed: boolean, values: bigint[]): number {
  L.tableBytes = (L.tableBytes + 7) & ~7;
  L.tables.push({ name, size, signed, values, offset: L.tableBytes });
  L.tableBytes += size * values.length;
  return L.tables.length - 1;
}

/** A module-level expression folded to a constant, or null if it is not one. */
function constEval(L: Lowerer, e: ts.Expression): Val | null {
  const saved = L.cur;
  const n = L.ops.length;
  const slots = [L.slotsUsed, L.maxSlot];
  const free = [...L.free];
  L.cur = new Map();
  try {
    const v = L.value(e, new Map(L.module));
    return isK(v.o) && L.ops.length === n ? v : null;
  } catch (err) {
    if (err instanceof BpfCompileError) return null;
    throw err;
  } finally {
    L.ops.length = n;
    L.cur = saved;
    [L.slotsUsed, L.maxSlot] = slots;
    L.free = free;
  }
}

export function lookup(L: Lowerer, id: ts.Identifier, scope: Scope): Binding {
  const b = scope.get(id.text);
  if (b === undefined) {
    if (id.text === 'undefined' || id.text === 'NaN' || id.text === 'Infinity') L.fail(id, `${id.text} is not an integer`, 'a compiled filter computes with integers only');
    L.fail(id, `${id.text} is not defined in this module`, 'a compiled filter sees its parameters, locals, module-level consts and functions, and the constants of softnet/xdp');
  }
  if (b.kind === 'refuse') {
    if (b.what === '' && ts.isVariableDeclaration(b.node)) {
      const got = moduleConst(L, id.text, b.node, id);
      scope.set(id.text, got);
      return got;
    }
    L.fail(id, b.what, b.hint);
  }
  return b;
}

export function prepareParse(L: Lowerer, filter: ts.Node): void {
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
  visit(L.sf);
  void filter;
  if (!l2 && !l3) return;
  const s = () => L.slot(filter);
  L.parse = { l3, etype: s(), vid: s(), l3o: s(), proto: l3 ? s() : -1, l4o: l3 ? s() : -1 };
}

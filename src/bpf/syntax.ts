// Syntax helpers of the lowering: the operator tables (binary, compound assignment, comparison),
// skipping parentheses and type assertions, and finding assignments to a name.
import ts from 'typescript';
import type { Cond } from './ir.ts';
import type { BinFn } from './ranges.ts';

export const BINARY: Partial<Record<ts.SyntaxKind, BinFn>> = {
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
export const COMPOUND: Partial<Record<ts.SyntaxKind, BinFn>> = {
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
export const COMPARE: Partial<Record<ts.SyntaxKind, Cond>> = {
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: 'eq',
  [ts.SyntaxKind.EqualsEqualsToken]: 'eq',
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: 'ne',
  [ts.SyntaxKind.ExclamationEqualsToken]: 'ne',
  [ts.SyntaxKind.LessThanToken]: 'slt',
  [ts.SyntaxKind.LessThanEqualsToken]: 'sle',
  [ts.SyntaxKind.GreaterThanToken]: 'sgt',
  [ts.SyntaxKind.GreaterThanEqualsToken]: 'sge',
};

export function skipParens(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

export function isAssignOp(k: ts.SyntaxKind): boolean {
  return k >= ts.SyntaxKind.FirstAssignment && k <= ts.SyntaxKind.LastAssignment;
}

/** Does `node` assign to (or ++/-- ) the variable `name`? (Conservative: ignores shadowing.) */
export function assigns(node: ts.Node, name: string): boolean {
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

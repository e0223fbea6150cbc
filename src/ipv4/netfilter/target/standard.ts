/**
 * The standard target (XT_STANDARD_TARGET): the verdicts ACCEPT, DROP, RETURN, a jump to a user
 * chain (`-j CHAIN`) or a goto (`-g CHAIN`), and no target at all (the rule only counts). As in
 * ipt_do_table, the traversal in program.ts interprets these itself, by the ids below.
 */

import type { TargetExt } from '../xt.ts';

export const T_NONE = 0;
export const T_ACCEPT = 1;
export const T_DROP = 2;
export const T_RETURN = 3;
export const T_JUMP = 4;
export const T_GOTO = 5;
/** Ids from here on are the other targets' (program.ts numbers them). */
export const T_FIRST_EXT = 6;

const verdict = (name: string, builtin: number): TargetExt => ({ kind: name, name, builtin, init: () => ({ kind: name }), spec: () => `-j ${name}` });
const chainId = (t: { chain?: string }, id: (name: string) => number) => [id(t.chain!)];

export const standard: readonly TargetExt[] = [
  { kind: 'NONE', builtin: T_NONE, spec: () => '' },
  verdict('ACCEPT', T_ACCEPT),
  verdict('DROP', T_DROP),
  verdict('RETURN', T_RETURN),
  { kind: 'JUMP', builtin: T_JUMP, spec: (t) => `-j ${t.chain}`, slots: ['chain'], compile: chainId },
  { kind: 'GOTO', builtin: T_GOTO, spec: (t) => `-g ${t.chain}`, list: () => ' [goto]', slots: ['chain'], compile: chainId },
];

/**
 * The rule record layout and the record walk's match and target functions, generated once at load
 * from the extensions' code (xt.ts Test/TargetExt). Rule constants stay in Program's Int32Array,
 * so these functions never change with the rules, and they are the monomorphic, inlinable
 * straight-line tests a hand-written evaluator would have. The source is `SOURCE`, for reading.
 * compile-chain.ts generates per-chain code from the same records and snippets (`subst`, `HELPERS`).
 *
 * A rule record (STRIDE int32, hot fields first: the first 16 share a cache line):
 *   [0] flags: bit k = the rule has test k, bit k + 16 = it is negated
 *   [1] target id (standard.ts T_*, or an extension target's)
 *   [2..] the target's slots (shared: a rule has one target), then each test's slots, hot tests first.
 */

import { MATCHES, TARGETS } from './extensions.ts';
import { fieldsRead, type NfPacket } from './packet.ts';
import { T_FIRST_EXT } from './target/standard.ts';
import type { TargetExt, Test } from './xt.ts';

export const F_FLAGS = 0;
export const F_TARGET = 1;
const F_TARGET_SLOTS = 2;
export const STRIDE = 32;
/** Flag bits: 16 tests, 16 negations. */
const MAX_TESTS = 16;
/** What the target function returns to go on with the next rule (the kernel's XT_CONTINUE). */
export const XT_CONTINUE = -1;

export interface PlacedTest {
  test: Test;
  bit: number;
  /** Record offsets of its slots. */
  off: number[];
}
export interface PlacedTarget {
  ext: TargetExt;
  id: number;
  off: number[];
}

/** Every test once (tcp and udp share theirs), in registry order: the order of the flag bits. */
const allTests = [...new Set(MATCHES.flatMap((m) => m.tests ?? []))];
if (allTests.length > MAX_TESTS) throw new Error(`netfilter: ${allTests.length} tests, the flags word holds ${MAX_TESTS}`);

const targetSlots = Math.max(...TARGETS.map((t) => t.slots?.length ?? 0));
let nextSlot = F_TARGET_SLOTS + targetSlots;
const place = (n: number) => Array.from({ length: n }, () => nextSlot++);
const hotFirst = [...allTests.filter((t) => t.hot), ...allTests.filter((t) => !t.hot)];
const offsets = new Map(hotFirst.map((t) => [t, place(t.slots.length)]));
if (nextSlot > STRIDE) throw new Error(`netfilter: rule records need ${nextSlot} slots, STRIDE is ${STRIDE}`);

export const TESTS: readonly PlacedTest[] = allTests.map((test, bit) => ({ test, bit, off: offsets.get(test)! }));

let nextId = T_FIRST_EXT;
export const TARGET_IDS: ReadonlyMap<string, PlacedTarget> = new Map(
  TARGETS.map((ext) => [ext.kind, { ext, id: ext.builtin ?? nextId++, off: (ext.slots ?? []).map((_, i) => F_TARGET_SLOTS + i) }]),
);

/** Each `$slot` in code replaced by what `to` says for slot i (compile-chain.ts puts the constants in). */
export function subst(code: string, names: readonly string[], to: (i: number) => string): string {
  return code.replace(/\$(\w+)/g, (_, s: string) => {
    const i = names.indexOf(s);
    if (i < 0) throw new Error(`netfilter: "$${s}" is not a slot in: ${code}`);
    return to(i);
  });
}

/** `$slot` -> `d[b + offset]`. */
const slots = (code: string, names: readonly string[], off: number[]) => subst(code, names, (i) => `d[b + ${off[i]}]`);

function cond(t: PlacedTest, indent = '  '): string {
  const on = 1 << t.bit;
  const negated = `((f & ${on << 16}) !== 0)`;
  const test = slots(t.test.test, t.test.slots, t.off);
  const guard = t.test.guard === undefined ? '' : `!(${slots(t.test.guard, t.test.slots, t.off)}) || `;
  return `${indent}if (f & ${on} && (${guard}(${test}) === ${negated})) return false;`;
}

/**
 * The rare tests in order; a run of guarded ones (the L4 tests: ports, flags, ICMP type) goes in
 * one block that rules without them skip with a single flags test (without it, micro-netfilter's
 * 20 rules took ~5% longer).
 */
function rareTests(tests: readonly PlacedTest[]): string {
  const out: string[] = [];
  for (let i = 0; i < tests.length; ) {
    let j = i;
    while (j < tests.length && tests[j].test.guard !== undefined) j++;
    if (j - i >= 2) {
      const bits = tests.slice(i, j).reduce((m, t) => m | (1 << t.bit), 0);
      out.push(`  if (f & ${bits}) {`, ...tests.slice(i, j).map((t) => cond(t, '    ')), '  }');
      i = j;
    } else out.push(cond(tests[i++]));
  }
  return out.join('\n');
}

/** Per test bit and per target id: the NfPacket field groups its code reads (packet.ts NFF_*). */
export const TEST_FIELDS: readonly number[] = TESTS.map((t) => fieldsRead(t.test.test) | fieldsRead(t.test.guard ?? ''));
export const TARGET_FIELDS: ReadonlyMap<number, number> = new Map([...TARGET_IDS.values()].map((t) => [t.id, fieldsRead(t.ext.code ?? '')]));

const hot = TESTS.filter((t) => t.test.hot);
const rare = TESTS.filter((t) => !t.test.hot);
const rareBits = rare.reduce((m, t) => m | (1 << t.bit), 0);
const extTargets = [...TARGET_IDS.values()].filter((t) => t.ext.code !== undefined);

/** The extensions' helper functions by the names their code calls them. */
export const HELPERS = new Map<string, Function>();
for (const h of [...allTests.map((t) => t.helpers), ...TARGETS.map((t) => t.helpers)]) {
  for (const [name, fn] of Object.entries(h ?? {})) {
    if (HELPERS.has(name) && HELPERS.get(name) !== fn) throw new Error(`netfilter: two helpers named "${name}"`);
    HELPERS.set(name, fn);
  }
}

export const SOURCE = `"use strict";
// all of rule r's tests hold for p (the ip part's hot tests here, small enough to inline)
function match(d, b, r, p, x) {
  const prog = this;
  const f = d[b];
${hot.map((t) => cond(t)).join('\n')}
  if (f & ${rareBits}) return this.matchMore(d, b, r, p, x, f);
  return true;
}
function matchMore(d, b, r, p, x, f) {
  const prog = this;
${rareTests(rare)}
  return true;
}
// the extension targets: a verdict, or ${XT_CONTINUE} to go on
function target(d, b, r, p, x, t) {
  const prog = this;
  switch (t) {
${extTargets.map((t) => `    case ${t.id}: {\n      ${slots(t.ext.code!, t.ext.slots ?? [], t.off)}\n      return ${XT_CONTINUE};\n    }`).join('\n')}
  }
  return ${XT_CONTINUE};
}
return { match, matchMore, target };
//# sourceURL=netfilter-program.js
`;

/**
 * The generated functions, installed as Program's methods: `this.match(...)` on a Program is a
 * call V8 resolves through the (stable) prototype, so it inlines without a per-call check.
 */
export interface Generated {
  match(d: Int32Array, b: number, r: number, p: NfPacket, x: Int32Array): boolean;
  matchMore(d: Int32Array, b: number, r: number, p: NfPacket, x: Int32Array, f: number): boolean;
  target(d: Int32Array, b: number, r: number, p: NfPacket, x: Int32Array, t: number): number;
}

export const GENERATED = new Function(...HELPERS.keys(), SOURCE)(...HELPERS.values()) as Generated;

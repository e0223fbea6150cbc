// Maps in the lowering: `const m = defineMap({type, key, value, maxEntries})` at module level
// becomes a MapDef (the spec checked at compile time, with the same rules as src/core/xdp-map.ts
// at run time), and m.get/has/set/delete calls become mget/mset/mdel IR operations. Keys and
// values take the declared integer kind's range: a u16 value read back is 0..65535, as in JS.
import ts from 'typescript';
import { KIND_SIZE, layout, MAP_TYPES, MAX_FIELDS, type MapKind, type MapSpec, type MapType } from '../core/xdp-map.ts';
import type { MapDef } from './ir.ts';
import { isK } from './ir.ts';
import type { Lowerer, Scope, Val } from './lower.ts';
import type { Range } from './ranges.ts';
import { skipParens } from './syntax.ts';

const KIND_RANGE: Record<MapKind, Range> = {
  u8: { lo: 0n, hi: 255n },
  u16: { lo: 0n, hi: 65535n },
  u32: { lo: 0n, hi: 2n ** 32n - 1n },
  i32: { lo: -(2n ** 31n), hi: 2n ** 31n - 1n },
  i64: { lo: -(2n ** 53n), hi: 2n ** 53n },
};
const KINDS = Object.keys(KIND_SIZE) as MapKind[];
const MAX_ENTRIES = 1 << 24;

/** Stack slots the emitter needs after the values: the key (8 B) and the largest value. */
export const MAP_SLOTS = (maps: MapDef[]): number => 1 + Math.max(0, ...maps.map((m) => (m.valueSize + 7) >> 3));

/** A defineMap({...}) call's spec, refused with its position unless it is a literal the compiler can read. */
export function mapDef(L: Lowerer, name: string, call: ts.CallExpression): MapDef {
  const hint = "defineMap({ type: 'hash' | 'array' | 'percpu_array' | 'lru_hash', key: 'u32', value: 'u32' | { field: 'i64', ... }, maxEntries: 1024 })";
  const arg = call.arguments.length === 1 ? skipParens(call.arguments[0]) : null;
  if (arg === null || !ts.isObjectLiteralExpression(arg)) L.fail(call, `defineMap for ${name} needs one object literal`, hint);
  const props = new Map<string, ts.Expression>();
  for (const p of arg.properties) {
    if (!ts.isPropertyAssignment(p) || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) L.fail(p, `defineMap for ${name}: only plain properties`, hint);
    props.set(p.name.text, skipParens(p.initializer));
  }
  const str = (k: string, allowed: readonly string[]): string => {
    const e = props.get(k);
    if (e === undefined) L.fail(arg, `defineMap for ${name}: ${k} is missing`, hint);
    if (!ts.isStringLiteral(e) || !allowed.includes(e.text)) L.fail(e, `defineMap for ${name}: ${k} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`, hint);
    return e.text;
  };
  const type = str('type', MAP_TYPES) as MapType;
  const key = str('key', KINDS) as MapKind;
  if ((type === 'array' || type === 'percpu_array') && key !== 'u32') L.fail(props.get('key')!, `an ${type}'s key is a u32 index (the kernel's)`, "key: 'u32'");
  const v = props.get('value');
  let value: MapSpec['value'];
  if (v !== undefined && ts.isObjectLiteralExpression(v)) {
    const rec: Record<string, MapKind> = {};
    for (const p of v.properties) {
      if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name) || !ts.isStringLiteral(skipParens(p.initializer)) || !KINDS.includes((skipParens(p.initializer) as ts.StringLiteral).text as MapKind))
        L.fail(p, `defineMap for ${name}: a record field is name: ${KINDS.map((k) => `'${k}'`).join(' | ')}`, hint);
      rec[p.name.text] = (skipParens(p.initializer) as ts.StringLiteral).text as MapKind;
    }
    if (Object.keys(rec).length === 0 || Object.keys(rec).length > MAX_FIELDS) L.fail(v, `defineMap for ${name}: a record value has 1..${MAX_FIELDS} fields`);
    value = rec;
  } else value = str('value', KINDS) as MapKind;
  const n = props.get('maxEntries');
  if (n === undefined) L.fail(arg, `defineMap for ${name}: maxEntries is missing`, hint);
  const me = L.value(n, new Map());
  if (!isK(me.o) || me.o.k < 1n || me.o.k > BigInt(MAX_ENTRIES)) L.fail(n, `defineMap for ${name}: maxEntries must be an integer literal in 1..${MAX_ENTRIES}`);
  for (const k of props.keys()) if (!['type', 'key', 'value', 'maxEntries'].includes(k)) L.fail(props.get(k)!, `defineMap for ${name}: unknown property ${k}`, hint);
  const spec: MapSpec = { type, key, value, maxEntries: Number(me.o.k) };
  return { name, spec, keySize: KIND_SIZE[key], valueSize: layout(spec).size };
}

/** m.get(k[, 'field']), m.has(k), m.set(k, [ 'field', ] v) (a statement), m.delete(k). */
export function lowerMapCall(L: Lowerer, map: number, method: string, e: ts.CallExpression, scope: Scope): Val {
  const def = L.maps[map];
  const { fields, scalar } = layout(def.spec);
  const args = e.arguments;
  const field = (a: ts.Expression | undefined) => {
    if (scalar) {
      if (a !== undefined) L.fail(a, `${def.name} holds one integer, not a record`, `${def.name}.${method}(key${method === 'set' ? ', value' : ''})`);
      return fields[0];
    }
    const x = a === undefined ? undefined : skipParens(a);
    if (x === undefined || !ts.isStringLiteral(x)) L.fail(a ?? e, `${def.name}'s value is a record: name the field with a string literal`, `${def.name}.${method}(key, '${fields[0].name}'${method === 'set' ? ', value' : ''})`);
    const f = fields.find((y) => y.name === x.text);
    if (f === undefined) L.fail(x, `${def.name} has no field ${x.text}`, `its fields: ${fields.map((y) => y.name).join(', ')}`);
    return f;
  };
  const num = (a: ts.Expression) => {
    const v = L.value(a, scope);
    if (v.t !== 'num') L.fail(a, `a boolean as a map ${a === args[0] ? 'key' : 'value'}`, 'write b ? 1 : 0');
    return v;
  };
  const want = (n: number, m: number) => {
    if (args.length < n || args.length > m) L.fail(e, `${def.name}.${method} takes ${n === m ? n : `${n} or ${m}`} arguments, given ${args.length}`);
  };
  switch (method) {
    case 'get':
    case 'has': {
      want(1, method === 'get' && !scalar ? 2 : 1);
      const f = method === 'get' ? field(args[1]) : fields[0];
      const key = num(args[0]);
      const d = L.slot(e);
      L.emit({ op: 'mget', d, map, key: key.o, off: f.off, size: f.size, signed: f.kind === 'i32' || f.kind === 'i64', has: method === 'has' });
      L.release(key);
      L.setRange(d, method === 'has' ? { lo: 0n, hi: 1n } : KIND_RANGE[f.kind]);
      return { t: method === 'has' ? 'bool' : 'num', o: { s: d }, tmp: true };
    }
    case 'set': {
      want(scalar ? 2 : 3, scalar ? 2 : 3);
      if (L.stmtCall !== e) L.fail(e, `${def.name}.set() as a value (it returns undefined)`, 'call it as a statement of its own');
      const f = field(scalar ? undefined : args[1]);
      const key = num(args[0]);
      const v = num(args[scalar ? 1 : 2]);
      L.emit({ op: 'mset', map, key: key.o, off: f.off, size: f.size, a: v.o });
      L.release(key);
      L.release(v);
      return { t: 'num', o: { k: 0n } };
    }
    case 'delete': {
      want(1, 1);
      const key = num(args[0]);
      const d = L.slot(e);
      L.emit({ op: 'mdel', d, map, key: key.o });
      L.release(key);
      L.setRange(d, { lo: 0n, hi: 1n });
      return { t: 'bool', o: { s: d }, tmp: true };
    }
    default:
      L.fail(e, `${def.name}.${method}() is not a map operation`, 'get(key), get(key, field), has(key), set(key, value), set(key, field, value), delete(key)');
  }
}

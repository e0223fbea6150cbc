/**
 * iptables for softnet: tables of chains of rules (control plane, iptables syntax through exec())
 * and the five hooks (hook(), the hot path, through the compiled Program).
 *
 * Tables: `filter` (INPUT, FORWARD, OUTPUT) and `mangle` (PREROUTING, INPUT, FORWARD, OUTPUT,
 * POSTROUTING), run at each hook in the kernel's priority order: mangle (-150) before filter (0).
 * `nat` (PREROUTING, INPUT, OUTPUT, POSTROUTING) is not run per packet: the NAT core
 * (src/ipv4/nat, attached with attachNat) takes its place in the order (-100 at PREROUTING and
 * OUTPUT, 100 at INPUT and POSTROUTING), runs the chain through runNat() for a connection's first
 * packet only and applies the connection's mapping to every packet. `raw` (PREROUTING, OUTPUT,
 * -300) runs before connection tracking (-200), through raw(): NfHooks calls it, then conntrack,
 * then hook(). security is refused. Rules that need connection tracking (conntrack/state
 * matches, CT, the nat table) turn it on: needsConntrack().
 * REJECT is only valid in the filter table (as ipt_REJECT's .table = "filter"), the NAT targets
 * only in nat and from their hooks (xt_nat's hook masks), also through user chains.
 */

import { SegmentCache } from './compile-chain.ts';
import { MATCHES, targetByName, targetOf } from './extensions.ts';
import { formatListRow, formatSpec } from './format.ts';
import * as packet from './packet.ts';
import type { NfPacket } from './packet.ts';
import { MAX_DEPTH, Program, type ChainIn } from './program.ts';
import { parseRestore } from './restore.ts';
import { parseCommand, type Command } from './rule.ts';
import { LogLimit, logLine } from './target/log.ts';
import { IptablesError, type Host, type Rule } from './xt.ts';

export * from './packet.ts';
export { IptablesError, parseCommand, type Rule, type Command } from './rule.ts';
export { formatSpec } from './format.ts';

// Hot path (hook()): module-local consts, not imported bindings (src/wire/README.md, "On the hot path").
const { NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_NUMHOOKS, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NFF_ALL } = packet;

interface Chain extends ChainIn {
  name: string;
  table: string;
  builtin: boolean;
}

const TABLES: Record<string, Array<[string, number]>> = {
  // [chain, hook]; table order = priority order at a hook
  raw: [
    ['PREROUTING', NF_INET_PRE_ROUTING],
    ['OUTPUT', NF_INET_LOCAL_OUT],
  ],
  mangle: [
    ['PREROUTING', NF_INET_PRE_ROUTING],
    ['INPUT', NF_INET_LOCAL_IN],
    ['FORWARD', NF_INET_FORWARD],
    ['OUTPUT', NF_INET_LOCAL_OUT],
    ['POSTROUTING', NF_INET_POST_ROUTING],
  ],
  filter: [
    ['INPUT', NF_INET_LOCAL_IN],
    ['FORWARD', NF_INET_FORWARD],
    ['OUTPUT', NF_INET_LOCAL_OUT],
  ],
  nat: [
    ['PREROUTING', NF_INET_PRE_ROUTING],
    ['INPUT', NF_INET_LOCAL_IN],
    ['OUTPUT', NF_INET_LOCAL_OUT],
    ['POSTROUTING', NF_INET_POST_ROUTING],
  ],
};
/** mangle and filter: the tables hook() runs itself (nat goes through the NAT core). */
const TABLES_PER_HOOK = 2;
const HOOK_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
/**
 * Where the NAT core runs in a hook, by priority: 1 = after mangle (NF_IP_PRI_NAT_DST -100 at
 * PREROUTING and OUTPUT, so before OUTPUT's filter; POSTROUTING has nothing after mangle),
 * 2 = after filter (NF_IP_PRI_NAT_SRC 100 at INPUT), 0 = not at all (FORWARD).
 */
const NAT_AT = [1, 2, 0, 1, 1];

/** The NAT core's entry at the nat table's place in a hook (nf_nat_ipv4_fn): a verdict; it may rewrite the packet and p. */
export interface NatHook {
  natHook(hook: number, p: NfPacket): number;
}

/** The rule has a match or target that needs connection tracking. */
function usesConntrack(r: Rule): boolean {
  if (targetOf(r.target).conntrack === true) return true;
  return MATCHES.some((m) => m.conntrack === true && m.spec(r) !== '');
}

const err = (msg: string): never => {
  throw new IptablesError(`iptables: ${msg}`);
};

export class Netfilter implements Host {
  /** Where LOG lines go (kernel: the kernel log). */
  logSink: (line: string) => void = (line) => console.error(line);
  /** LOG lines suppressed by the rate limit. */
  logSuppressed = 0;

  private readonly tables = new Map<string, Map<string, Chain>>();
  private prog!: Program;
  /** hook * TABLES_PER_HOOK + k -> chain index in prog, -1 none. */
  private readonly hookChains = new Int32Array(NF_INET_NUMHOOKS * TABLES_PER_HOOK).fill(-1);
  /** The raw table's chain per hook, -1 none. */
  private readonly rawChains = new Int32Array(NF_INET_NUMHOOKS).fill(-1);
  /** Rules that need connection tracking (conntrack/state matches, CT), counted at compile. */
  private ctRules = 0;
  /** The nat table's chain per hook, -1 none (FORWARD). */
  private readonly natChains = new Int32Array(NF_INET_NUMHOOKS).fill(-1);
  /** Per hook: NAT_AT's position while the NAT core runs there, else 0. */
  private readonly natAt = new Uint8Array(NF_INET_NUMHOOKS);
  private nat: NatHook | null = null;
  /** The nat table got a rule once (the kernel's iptable_nat loaded): from then on the NAT core runs. */
  private natLoaded = false;
  /**
   * The mangle and filter tables named by a command so far (the kernel loads iptable_mangle and
   * iptable_filter, and registers their hooks, when iptables first asks for the table): a table's
   * chains run at its hooks, and count their policies, only from then on.
   */
  private readonly loaded = new Set<string>();
  private readonly logLimit = new LogLimit();
  /** Chains run as generated functions (compile-chain.ts) or by walking the records (the reference). */
  private evaluator: 'compiled' | 'records' = 'compiled';
  /** Inside restore(): the programs of its single lines get no code (no packet runs them), only the last one. */
  private batching = false;
  /** The compiled chains' segments, kept across rule changes (compile-chain.ts). */
  private readonly segments = new SegmentCache();

  constructor(
    readonly devIndex: (name: string) => number,
    readonly devName: (i: number) => string,
  ) {
    for (const [t, chains] of Object.entries(TABLES)) {
      const m = new Map<string, Chain>();
      for (const [name] of chains) m.set(name, { name, table: t, builtin: true, policy: NF_ACCEPT, rules: [], polPkts: 0, polBytes: 0 });
      this.tables.set(t, m);
    }
    this.compile();
  }

  /** Runs the hook's chains (mangle, filter, the NAT core in its place) on p: NF_ACCEPT, NF_DROP or NF_REJECT. Hot path. */
  hook(hook: number, p: NfPacket): number {
    if (!(hook >= 0 && hook < NF_INET_NUMHOOKS)) return NF_DROP; // a caller bug: fail closed, never loop or throw
    const prog = this.prog;
    // Unrolled over the (at most) two tables, mangle then filter, each while it is loaded.
    const base = hook * TABLES_PER_HOOK;
    let v = NF_ACCEPT;
    const m = this.hookChains[base];
    if (m >= 0) {
      v = prog.run(m, p);
      if (v !== NF_ACCEPT) return v;
    }
    const nat = this.natAt[hook];
    if (nat === 1) {
      v = this.nat!.natHook(hook, p);
      if (v !== NF_ACCEPT) return v;
    }
    const c = this.hookChains[base + 1];
    if (c >= 0) {
      v = prog.run(c, p);
      if (v !== NF_ACCEPT) return v;
    }
    return nat === 2 ? this.nat!.natHook(hook, p) : NF_ACCEPT;
  }

  /** The nat table's chain for hook on p (nf_nat_inet_fn's lookup, a connection's first packet): p.natKind = 0 when no NAT target ran. */
  runNat(hook: number, p: NfPacket): number {
    p.natKind = 0;
    const c = this.natChains[hook];
    return c < 0 ? NF_ACCEPT : this.prog.run(c, p);
  }

  /** Attach the NAT core (null detaches): it runs at its hooks once the nat table has had a rule. */
  attachNat(nat: NatHook | null): void {
    this.nat = nat;
    this.placeNat();
  }

  private placeNat(): void {
    for (let h = 0; h < NF_INET_NUMHOOKS; h++) this.natAt[h] = this.nat !== null && this.natLoaded ? NAT_AT[h] : 0;
  }

  /** The raw table's chain for hook on p (before conntrack): NF_ACCEPT or NF_DROP; CT --notrack sets p.notrack. Hot path. */
  raw(hook: number, p: NfPacket): number {
    const c = hook >= 0 && hook < NF_INET_NUMHOOKS ? this.rawChains[hook] : -1;
    return c < 0 ? NF_ACCEPT : this.prog.run(c, p);
  }

  /**
   * The NfPacket field groups (NFF_*) the hook's chains read, through jumps: its raw, mangle and
   * filter chains as they run now, and all of them while the NAT core runs there. Control plane
   * (NfHooks.refresh): the hook stage fills only these.
   */
  fieldsAt(hook: number): number {
    if (!(hook >= 0 && hook < NF_INET_NUMHOOKS) || this.natAt[hook] !== 0) return NFF_ALL;
    let m = 0;
    for (const c of [this.rawChains[hook], this.hookChains[hook * TABLES_PER_HOOK], this.hookChains[hook * TABLES_PER_HOOK + 1]]) if (c >= 0) m |= this.prog.fields(c);
    return m;
  }

  /** True when the raw table has nothing for the hook (no rules, ACCEPT policy). */
  rawIsEmpty(hook: number): boolean {
    for (const [name, h] of TABLES.raw) {
      if (h !== hook) continue;
      const c = this.tables.get('raw')!.get(name)!;
      if (c.rules.length > 0 || c.policy !== NF_ACCEPT) return false;
    }
    return true;
  }

  /** Some rule needs connection tracking (the kernel's nf_ct_netns_get users): a conntrack/state match, CT, or the nat table. */
  needsConntrack(): boolean {
    return this.ctRules > 0 || this.natLoaded;
  }

  /** True when hook() has nothing to do for the hook (no mangle/filter rules, ACCEPT policies, no NAT); raw is rawIsEmpty's. */
  hookIsEmpty(hook: number): boolean {
    if (hook >= 0 && hook < NF_INET_NUMHOOKS && this.natAt[hook] !== 0) return false;
    for (const [t, chains] of Object.entries(TABLES)) {
      if (!this.loaded.has(t)) continue;
      for (const [name, h] of chains) {
        if (h !== hook) continue;
        const c = this.tables.get(t)!.get(name)!;
        if (c.rules.length > 0 || c.policy !== NF_ACCEPT) return false;
      }
    }
    return true;
  }

  /** One iptables command. Returns the -L/-S text ('' for changes); throws IptablesError naming the problem. */
  exec(line: string): string {
    const c = parseCommand(line);
    const table = this.tables.get(c.table);
    if (table === undefined) {
      return err(`can't initialize iptables table "${c.table}": Table does not exist (softnet has raw, mangle, nat and filter)`);
    }
    this.prog.syncCounters();
    if ((c.table === 'mangle' || c.table === 'filter') && !this.loaded.has(c.table)) {
      this.loaded.add(c.table);
      this.compile();
    }
    switch (c.cmd) {
      case 'L':
        return this.list(table, c);
      case 'S':
        return this.listRules(table, c);
      case 'A':
      case 'I':
      case 'R':
        this.insert(table, c);
        return '';
      case 'D':
        this.delete(table, c);
        return '';
      case 'C': {
        // -C: succeed silently if the rule exists, else the error -D would give (exit status 1)
        const spec = formatSpec(c.rule!);
        if (!this.chain(table, c.chain!).rules.some((r) => formatSpec(r) === spec)) err(`Bad rule (does a matching rule exist in that chain?): -C ${c.chain} ${spec}`);
        return '';
      }
      case 'F':
        for (const ch of this.chainsOf(table, c.chain)) ch.rules = [];
        break;
      case 'Z':
        for (const ch of this.chainsOf(table, c.chain)) {
          for (const r of ch.rules) r.pkts = r.bytes = 0;
          ch.polPkts = ch.polBytes = 0;
        }
        break;
      case 'P': {
        const ch = this.chain(table, c.chain!);
        if (!ch.builtin) err(`Bad built-in chain name "${c.chain}" (policies are for built-in chains only)`);
        if (c.arg !== 'ACCEPT' && c.arg !== 'DROP') err(`Bad policy name "${c.arg}" (ACCEPT or DROP)`);
        ch.policy = c.arg === 'ACCEPT' ? NF_ACCEPT : NF_DROP;
        break;
      }
      case 'N': {
        if (table.has(c.chain!)) err(`Chain already exists: "${c.chain}"`);
        if (targetByName.has(c.chain!) || c.chain === 'QUEUE') err(`"${c.chain}" is a target name, not usable as a chain name`);
        table.set(c.chain!, { name: c.chain!, table: c.table, builtin: false, policy: -1, rules: [], polPkts: 0, polBytes: 0 });
        break;
      }
      case 'X': {
        const victims = c.chain === undefined ? [...table.values()].filter((x) => !x.builtin) : [this.chain(table, c.chain)];
        for (const v of victims) {
          if (v.builtin) err(`can't delete built-in chain "${v.name}"`);
          if (this.refs(table, v.name) > 0) err(`Too many links: chain "${v.name}" is still referenced (remove the -j ${v.name} rules first)`);
          if (v.rules.length > 0) err(`Directory not empty: chain "${v.name}" still has rules (flush it with -F ${v.name})`);
        }
        for (const v of victims) table.delete(v.name);
        break;
      }
      case 'E': {
        const ch = this.chain(table, c.chain!);
        if (ch.builtin) err(`can't rename built-in chain "${ch.name}"`);
        if (table.has(c.arg!)) err(`File exists: chain "${c.arg}"`);
        // Keep chain order: rebuild the map with the new name in place.
        const entries = [...table.entries()];
        table.clear();
        for (const [k, v] of entries) table.set(k === ch.name ? c.arg! : k, v);
        ch.name = c.arg!;
        for (const x of table.values()) for (const r of x.rules) if (r.target.chain === c.chain) r.target.chain = c.arg;
        break;
      }
    }
    this.compile();
    return '';
  }

  /**
   * iptables-restore: the tables named in `text` (restore.ts) replaced as a whole, each flushed of
   * rules and user chains first unless `noflush`; all or nothing: when a line fails every table is
   * put back as it was and the error names the line. One call on the control plane, so no packet
   * sees a half-loaded ruleset.
   */
  restore(text: string, noflush = false): void {
    const blocks = parseRestore(text);
    this.prog.syncCounters();
    const saved = [...this.tables].map(([t, m]) => [t, [...m].map(([k, ch]) => [k, { ...ch, rules: ch.rules.slice() }] as const)] as const);
    this.batching = true;
    try {
      for (const b of blocks) {
        const table = this.tables.get(b.table) ?? err(`can't initialize iptables table "${b.table}": Table does not exist (softnet has raw, mangle, nat and filter)`);
        if (!noflush) {
          for (const [k, ch] of table) {
            if (ch.builtin) ch.rules = [];
            else table.delete(k);
          }
        }
        const line = (n: number, cmd: string): void => {
          try {
            this.exec(`-t ${b.table} ${cmd}`);
          } catch (e) {
            throw new IptablesError(`iptables-restore: line ${n} failed: ${e instanceof Error ? e.message : String(e)}`);
          }
        };
        for (const [n, chain, policy] of b.chains) {
          if (policy === '-') line(n, table.has(chain) ? `-F ${chain}` : `-N ${chain}`);
          else line(n, `-P ${chain} ${policy}`);
        }
        for (const [n, cmd] of b.commands) line(n, cmd);
      }
    } catch (e) {
      this.batching = false;
      this.tables.clear();
      for (const [t, chains] of saved) this.tables.set(t, new Map(chains));
      this.compile();
      throw e;
    }
    this.batching = false;
    this.compile();
  }

  /** Chooses the evaluator (the tests and bench/micro-netfilter.ts compare the two); counters carry over. */
  setEvaluator(e: 'compiled' | 'records'): void {
    this.prog.syncCounters();
    this.evaluator = e;
    this.compile();
  }

  /** The LOG target's slow path (target/log.ts): rate-limited per rule, then to logSink. */
  log(rule: Rule, p: NfPacket): void {
    if (!this.logLimit.allow(rule)) {
      this.logSuppressed++;
      return;
    }
    this.logSink(logLine(rule, p, this.devName));
  }

  /** Counters of a rule (1-based) or, without num, of the chain policy; for tests and `softnet stat`. */
  counters(table: string, chain: string, num?: number): { pkts: number; bytes: number } {
    this.prog.syncCounters();
    const ch = this.chain(this.tables.get(table) ?? err(`no table "${table}"`), chain);
    if (num === undefined) return { pkts: ch.polPkts, bytes: ch.polBytes };
    const r = ch.rules[num - 1] ?? err(`no rule ${num} in chain "${chain}"`);
    return { pkts: r.pkts, bytes: r.bytes };
  }

  /**
   * Packet counters of a table in `-t TABLE -S` line order: per chain its policy's (0 for a user
   * chain's -N line), then every rule chain by chain. For `softnet trace`, which compares two of
   * these around a traced packet's stage run and names a moved entry by the same line of -S.
   */
  packetCounts(table: string): Float64Array {
    this.prog.syncCounters();
    const chains = [...(this.tables.get(table) ?? err(`no table "${table}"`)).values()];
    const out = new Float64Array(chains.reduce((n, ch) => n + 1 + ch.rules.length, 0));
    let k = 0;
    for (const ch of chains) out[k++] = ch.builtin ? ch.polPkts : 0;
    for (const ch of chains) for (const r of ch.rules) out[k++] = r.pkts;
    return out;
  }

  private chain(table: Map<string, Chain>, name: string): Chain {
    return table.get(name) ?? err(`No chain/target/match by that name: "${name}"`);
  }

  private chainsOf(table: Map<string, Chain>, name: string | undefined): Chain[] {
    return name === undefined ? [...table.values()] : [this.chain(table, name)];
  }

  private refs(table: Map<string, Chain>, name: string): number {
    let n = 0;
    for (const ch of table.values()) for (const r of ch.rules) if ((r.target.kind === 'JUMP' || r.target.kind === 'GOTO') && r.target.chain === name) n++;
    return n;
  }

  private insert(table: Map<string, Chain>, c: Command): void {
    const ch = this.chain(table, c.chain!);
    const r = c.rule!;
    if (r.target.kind === 'JUMP' || r.target.kind === 'GOTO') {
      const to = table.get(r.target.chain!);
      if (to === undefined) err(`Couldn't load target "${r.target.chain}" (no such chain in table ${c.table}; create it with -N ${r.target.chain})`);
      if (to!.builtin) err(`can't jump to built-in chain "${r.target.chain}"`);
    }
    const only = targetOf(r.target).table;
    if (only !== undefined && only !== c.table) err(`${r.target.kind} is only valid in the ${only} table, not "${c.table}"`);
    const rules = ch.rules.slice();
    if (c.cmd === 'A') rules.push(r);
    else if (c.cmd === 'I') {
      if (c.num! > rules.length + 1) err(`Index of insertion too big: ${c.num} (chain "${ch.name}" has ${rules.length} rules)`);
      rules.splice(c.num! - 1, 0, r);
    } else {
      if (c.num! < 1 || c.num! > rules.length) err(`Index of replacement too big: ${c.num} (chain "${ch.name}" has ${rules.length} rules)`);
      rules[c.num! - 1] = r;
    }
    const old = ch.rules;
    ch.rules = rules;
    try {
      this.compile();
    } catch (e) {
      ch.rules = old; // a jump loop or too deep: leave the table as it was
      this.compile();
      throw e;
    }
  }

  private delete(table: Map<string, Chain>, c: Command): void {
    const ch = this.chain(table, c.chain!);
    let i: number;
    if (c.num !== undefined) {
      if (c.num < 1 || c.num > ch.rules.length) err(`Index of deletion too big: ${c.num} (chain "${ch.name}" has ${ch.rules.length} rules)`);
      i = c.num - 1;
    } else {
      const spec = formatSpec(c.rule!);
      i = ch.rules.findIndex((r) => formatSpec(r) === spec);
      if (i < 0) err(`Bad rule (does a matching rule exist in that chain?): -D ${ch.name} ${spec}`);
    }
    ch.rules = ch.rules.filter((_, k) => k !== i);
    this.compile();
  }

  /** Flattens all chains, checks jumps for loops and depth, and swaps in the new Program. */
  private compile(): void {
    const all: Chain[] = [];
    const index = new Map<string, number>(); // "table/chain" -> index
    for (const [t, m] of this.tables) for (const ch of m.values()) index.set(`${t}/${ch.name}`, all.push(ch) - 1);
    // Loop and depth check (the kernel's mark_source_chains): longest jump path from each chain.
    const depth = new Map<Chain, number>();
    const visiting = new Set<Chain>();
    const walk = (ch: Chain): number => {
      const d = depth.get(ch);
      if (d !== undefined) return d;
      if (visiting.has(ch)) err(`Too many levels of symbolic links: jump loop through chain "${ch.name}"`);
      visiting.add(ch);
      let max = 0;
      for (const r of ch.rules) {
        if (r.target.kind !== 'JUMP' && r.target.kind !== 'GOTO') continue;
        const to = all[index.get(`${ch.table}/${r.target.chain}`)!];
        max = Math.max(max, walk(to) + (r.target.kind === 'JUMP' ? 1 : 0));
      }
      visiting.delete(ch);
      depth.set(ch, max);
      return max;
    };
    for (const ch of all) if (walk(ch) > MAX_DEPTH) err(`chains nest deeper than ${MAX_DEPTH} jumps (from "${ch.name}")`);
    this.checkHooks(all, index);
    const chainId = (from: number, name: string) => index.get(`${all[from].table}/${name}`)!;
    const prog = new Program(all, chainId, this, this.evaluator === 'compiled' && !this.batching ? this.segments : null);
    this.hookChains.fill(-1);
    this.ctRules = 0;
    for (const ch of all) for (const r of ch.rules) if (usesConntrack(r)) this.ctRules++;
    for (const [t, chains] of Object.entries(TABLES)) {
      for (const [name, hook] of chains) {
        if (t === 'raw') {
          this.rawChains[hook] = index.get(`${t}/${name}`)!;
          continue;
        }
        if (t === 'nat') {
          this.natChains[hook] = index.get(`${t}/${name}`)!;
          if (this.tables.get(t)!.get(name)!.rules.length > 0) this.natLoaded = true;
          continue;
        }
        if (this.loaded.has(t)) this.hookChains[hook * TABLES_PER_HOOK + (t === 'mangle' ? 0 : 1)] = index.get(`${t}/${name}`)!;
      }
    }
    this.prog = prog;
    this.placeNat();
    this.logLimit.clear();
  }

  /**
   * The targets' hook masks (xt_check_target with mark_source_chains' hook bits): each chain gets
   * the hooks it is reachable from, through jumps and gotos; a target outside its mask fails.
   */
  private checkHooks(all: Chain[], index: Map<string, number>): void {
    const reach = new Map<Chain, number>();
    const visit = (ch: Chain, hook: number): void => {
      const m = reach.get(ch) ?? 0;
      if (m & (1 << hook)) return;
      reach.set(ch, m | (1 << hook));
      for (const r of ch.rules) if (r.target.kind === 'JUMP' || r.target.kind === 'GOTO') visit(all[index.get(`${ch.table}/${r.target.chain}`)!], hook);
    };
    for (const [t, chains] of Object.entries(TABLES)) for (const [name, hook] of chains) visit(all[index.get(`${t}/${name}`)!], hook);
    const names = (m: number) => HOOK_NAMES.filter((_, h) => m & (1 << h)).join('/');
    for (const ch of all) {
      const m = reach.get(ch) ?? 0;
      for (const r of ch.rules) {
        const ok = targetOf(r.target).hooks;
        if (ok !== undefined && (m & ~ok) !== 0) err(`${r.target.kind} target: used from hooks ${names(m & ~ok)}, but only usable from ${names(ok)}`);
      }
    }
  }

  private list(table: Map<string, Chain>, c: Command): string {
    const out: string[] = [];
    const num = (n: number, notab: boolean): string => {
      if (c.exact) return notab ? `${n}` : String(n).padStart(8);
      if (n <= 99999) return notab ? `${n}` : String(n).padStart(5);
      for (const u of ['K', 'M', 'G', 'T']) {
        n = Math.floor((n + 500) / 1000);
        if (n <= 9999 || u === 'T') return notab ? `${n}${u}` : `${String(n).padStart(4)}${u}`;
      }
      return String(n);
    };
    for (const ch of this.chainsOf(table, c.chain)) {
      if (out.length > 0) out.push('');
      if (ch.builtin) {
        const pol = ch.policy === NF_ACCEPT ? 'ACCEPT' : 'DROP';
        out.push(c.verbose ? `Chain ${ch.name} (policy ${pol} ${num(ch.polPkts, true)} packets, ${num(ch.polBytes, true)} bytes)` : `Chain ${ch.name} (policy ${pol})`);
      } else out.push(`Chain ${ch.name} (${this.refs(table, ch.name)} references)`);
      let h = '';
      if (c.lineNumbers) h += 'num  ';
      if (c.verbose) h += c.exact ? `${'pkts'.padStart(8)} ${'bytes'.padStart(10)} ` : ' pkts bytes ';
      h += 'target    ' + ' prot ' + 'opt';
      if (c.verbose) h += ' in     out    ';
      h += ` ${'source'.padEnd(19)} ` + ` ${'destination'.padEnd(19)} `;
      out.push(h.trimEnd());
      ch.rules.forEach((r, i) => {
        let s = '';
        if (c.lineNumbers) s += `${String(i + 1).padEnd(4)} `;
        if (c.verbose) s += c.exact ? `${num(r.pkts, false)} ${String(r.bytes).padStart(10)} ` : `${num(r.pkts, false)} ${num(r.bytes, false)} `;
        s += formatListRow(r, c.verbose, c.numeric);
        out.push(s.trimEnd());
      });
    }
    return out.join('\n') + '\n';
  }

  private listRules(table: Map<string, Chain>, c: Command): string {
    const chains = this.chainsOf(table, c.chain);
    const out: string[] = [];
    for (const ch of chains) out.push(ch.builtin ? `-P ${ch.name} ${ch.policy === NF_ACCEPT ? 'ACCEPT' : 'DROP'}` : `-N ${ch.name}`);
    for (const ch of chains) {
      for (const r of ch.rules) {
        const spec = formatSpec(r);
        out.push(`-A ${ch.name}${spec === '' ? '' : ' ' + spec}${c.verbose ? ` -c ${r.pkts} ${r.bytes}` : ''}`);
      }
    }
    return out.join('\n') + '\n';
  }
}

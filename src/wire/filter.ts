/**
 * tcpdump filter expressions (pcap-filter(7), the common part) compiled to a JavaScript matcher
 * over Ethernet frames: `softnet trace FILTER`.
 *
 * Supported: `host`, `net` (CIDR or `mask`), `port`, `portrange` with `src`/`dst`/`src or dst`/
 * `src and dst` and a protocol in front (`tcp dst port 80`, `ip src host ...`, `arp host ...`);
 * `ether host|src|dst MAC`; `ip`, `ip6`, `arp`, `tcp`, `udp`, `icmp`, `ip proto N|tcp|udp|icmp`;
 * `len`, `greater N`, `less N`; relations over `ether[...]`, `ip[...]`, `arp[...]`, `tcp[...]`,
 * `udp[...]`, `icmp[...]` (`[off]`, `[off:1|2|4]`) with `+ - * / & | << >>` and libpcap's named
 * constants (`tcpflags`, `tcp-syn`..., `icmptype`, `icmp-echo`...); `and`/`&&`, `or`/`||`,
 * `not`/`!`, parentheses; an omitted keyword repeats the previous one (`port 53 or 5353`).
 * Semantics follow libpcap: `host`/`net` match IPv4 and ARP addresses, `tcp`/`udp`/`port` also
 * IPv6 (the first next header), ports and transport loads only unfragmented-offset IPv4 (offset
 * 0), no VLAN-tagged frames (libpcap's `vlan` keyword is not supported), and a load beyond the
 * frame makes the whole filter false. Checked against tcpdump on the same frames
 * (test/unit/wire-filter.test.ts).
 *
 * Why our own compiler and not `tcpdump -d`'s BPF translated: it needs no tcpdump where softnet
 * runs, errors point at the word that is wrong, and the code it makes reads the frame with this
 * layer's named offsets (the only place header layouts live) as one small function V8 compiles.
 */
import { ETH_DST, ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_SRC, ETH_TYPE } from './ethernet.ts';
import { ARP_SPA, ARP_TPA } from './arp.ts';
import { ICMP_CODE, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_TIME_EXCEEDED, ICMP_TYPE } from './icmp.ts';
import { IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_DADDR, IPV4_FRAG_OFF, IPV4_PROTOCOL, IPV4_SADDR, IPV4_VIHL } from './ipv4.ts';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_FLAGS, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from './tcp.ts';
import { UDP_DEST, UDP_SOURCE } from './udp.ts';
import { tryParseIPv4, tryParseMac } from './addr.ts';

/** A compiled filter: does the frame at u8[a .. a+len) match? Never reads outside it, never allocates. */
export type FrameMatcher = (a: number, len: number) => boolean;

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

// IPv6: the fixed header's next-header byte and its length (no extension headers are walked).
const IP6_NEXTHDR = 6;
const IP6_HLEN = 40;

/** Compile `expr` once; bind it to a UMEM (or any buffer) with the returned function. */
export function compileFilter(expr: string): { source: string; bind(u8: Uint8Array, dv: DataView): FrameMatcher } {
  const body = new Compiler(tokenize(expr)).compile();
  const source = `return function match(a, len) {\n  let oob = 0;\n  const r = ${body};\n  return r && oob === 0;\n};`;
  // Only numbers and fixed operators reach the source: every word was parsed into a value.
  const make = new Function('u8', 'dv', source) as (u8: Uint8Array, dv: DataView) => FrameMatcher;
  return { source, bind: (u8, dv) => make(u8, dv) };
}

// ---- tokens ---------------------------------------------------------------------------------

type Tok = { t: 'word' | 'num' | 'op'; v: string; at: number };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s*(?:([0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5})(?![\w:])|(0x[0-9a-fA-F]+|\d+(?:\.\d+){0,3}(?:\/\d+)?(?:-\d+)?)(?![\w.])|([A-Za-z_][\w.-]*)|(&&|\|\||<<|>>|<=|>=|!=|==|[()[\]:!=<>+\-*/&|]))/y;
  let at = 0;
  while (at < s.length) {
    if (/^\s*$/.test(s.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(s);
    if (m === null) throw new FilterError(`filter: cannot read "${s.slice(at).trim()}" (at column ${at + 1})`);
    const pos = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? m[4]).length;
    if (m[1] !== undefined) out.push({ t: 'word', v: m[1], at: pos });
    else if (m[2] !== undefined) out.push({ t: /^(0x[0-9a-f]+|\d+)$/i.test(m[2]) ? 'num' : 'word', v: m[2], at: pos });
    else if (m[3] !== undefined) out.push({ t: 'word', v: m[3].toLowerCase(), at: pos });
    else out.push({ t: 'op', v: m[4], at: pos });
    at = re.lastIndex;
  }
  return out;
}

// ---- code -------------------------------------------------------------------------------------

const L3 = ETH_HLEN;
/** Offset of the IPv4 payload (transport header): Ethernet + IHL*4. */
const L4 = `(${L3} + ((u8[a + ${L3 + IPV4_VIHL}] & 15) << 2))`;

/** A load of n bytes at offset `off` (an expression) from the frame start; beyond the frame: oob. */
function ld(off: string | number, n: 1 | 2 | 4): string {
  const read = n === 1 ? `u8[a + ${off}]` : n === 2 ? `dv.getUint16(a + ${off})` : `dv.getUint32(a + ${off})`;
  return `(${off} + ${n} <= len ? ${read} : (oob = 1, 0))`;
}

const ether = (type: number) => `${ld(ETH_TYPE, 2)} === ${type}`;
const isIp = ether(ETH_P_IP);
const isIp6 = ether(ETH_P_IPV6);
const isArp = ether(ETH_P_ARP);
const ipProto = (p: number) => `(${isIp} && ${ld(L3 + IPV4_PROTOCOL, 1)} === ${p})`;
const ip6Proto = (p: number) => `(${isIp6} && ${ld(L3 + IP6_NEXTHDR, 1)} === ${p})`;
const notFrag = `(${ld(L3 + IPV4_FRAG_OFF, 2)} & ${IP_OFFSET}) === 0`;
/** The transport protocol over IPv4 at offset 0 (where its header is): what tcp[...] needs. */
const l4Proto = (p: number) => `(${ipProto(p)} && ${notFrag})`;

const PROTOS: Record<string, number> = { icmp: IPPROTO_ICMP, tcp: IPPROTO_TCP, udp: IPPROTO_UDP };

/** libpcap's named constants for relations. */
const NAMED: Record<string, number> = {
  tcpflags: TCP_FLAGS,
  'tcp-fin': TCP_FIN,
  'tcp-syn': TCP_SYN,
  'tcp-rst': TCP_RST,
  'tcp-push': TCP_PSH,
  'tcp-ack': TCP_ACK,
  'tcp-urg': TCP_URG,
  'tcp-ece': TCP_ECE,
  'tcp-cwr': TCP_CWR,
  icmptype: ICMP_TYPE,
  icmpcode: ICMP_CODE,
  'icmp-echoreply': ICMP_ECHOREPLY,
  'icmp-unreach': ICMP_DEST_UNREACH,
  'icmp-echo': ICMP_ECHO,
  'icmp-timxceed': ICMP_TIME_EXCEEDED,
};

type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst';
interface Qual {
  proto: string | null;
  dir: Dir | null;
  kind: 'host' | 'net' | 'port' | 'portrange' | null;
}

class Compiler {
  private k = 0;
  /** Qualifiers of the last primitive: an ID alone repeats them (libpcap's `port 53 or 5353`). */
  private last: Qual | null = null;

  constructor(private readonly toks: Tok[]) {}

  compile(): string {
    if (this.toks.length === 0) return 'true';
    const e = this.or();
    if (this.k < this.toks.length) this.fail(`unexpected "${this.toks[this.k].v}"`);
    return e;
  }

  private peek(): Tok | undefined {
    return this.toks[this.k];
  }

  private is(v: string): boolean {
    const t = this.peek();
    return t !== undefined && t.v === v && t.t !== 'num';
  }

  private eat(v: string): boolean {
    if (!this.is(v)) return false;
    this.k++;
    return true;
  }

  fail(msg: string): never {
    const t = this.peek();
    throw new FilterError(`filter: ${msg}${t ? ` (at "${t.v}", column ${t.at + 1})` : ' (at the end)'}`);
  }

  private or(): string {
    let e = this.and();
    while (this.eat('or') || this.eat('||')) e = `(${e} || ${this.and()})`;
    return e;
  }

  private and(): string {
    let e = this.not();
    while (this.eat('and') || this.eat('&&')) e = `(${e} && ${this.not()})`;
    return e;
  }

  private not(): string {
    if (this.eat('not') || this.eat('!')) return `!(${this.not()})`;
    return this.primary();
  }

  private primary(): string {
    // A parenthesis opens a boolean group unless an arithmetic relation follows it.
    if (this.is('(')) {
      const save = this.k;
      const last = this.last;
      let first: FilterError | null = null;
      this.k++;
      try {
        const e = this.or();
        if (!this.eat(')')) this.fail('expected ")"');
        if (!this.atRelOp() && !this.atArithOp()) return e;
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        first = err;
      }
      this.k = save;
      this.last = last;
      try {
        return this.relation();
      } catch (err) {
        // Neither a group nor a relation: the group's complaint is the one to read.
        throw first ?? err;
      }
    }
    if (this.startsRelation()) return this.relation();
    return this.primitive();
  }

  private atRelOp(): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'op' && ['=', '==', '!=', '<', '<=', '>', '>='].includes(t.v);
  }

  private atArithOp(): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'op' && ['+', '-', '*', '/', '&', '|', '<<', '>>'].includes(t.v);
  }

  /** A relation starts with a number, `len`, a named constant or a protocol load `proto[`. */
  private startsRelation(): boolean {
    const t = this.peek();
    if (t === undefined) return false;
    if (t.t === 'num') return this.last === null || this.afterNumIsRel();
    if (t.v === 'len' || Object.hasOwn(NAMED, t.v)) return true;
    const n = this.toks[this.k + 1];
    return ['ether', 'ip', 'arp', 'tcp', 'udp', 'icmp'].includes(t.v) && n !== undefined && n.v === '[';
  }

  /** After a number: an operator means a relation; otherwise it repeats the last qualifiers. */
  private afterNumIsRel(): boolean {
    const n = this.toks[this.k + 1];
    return n !== undefined && n.t === 'op' && n.v !== '(' && n.v !== ')' && n.v !== '!';
  }

  // ---- relations ------------------------------------------------------------------------------

  /** `arith relop arith`: the protocols its loads need must be there, else false (libpcap). */
  private relation(): string {
    const need = new Set<string>();
    const l = this.arith(need);
    const t = this.peek();
    if (!this.atRelOp()) this.fail('expected a comparison (= != < <= > >=)');
    this.k++;
    const r = this.arith(need);
    const op = t!.v === '=' || t!.v === '==' ? '===' : t!.v === '!=' ? '!==' : t!.v;
    const rel = `(${l}) ${op} (${r})`;
    return need.size === 0 ? `(${rel})` : `(${[...need].join(' && ')} && ${rel})`;
  }

  private arith(need: Set<string>, level = 0): string {
    // Precedence, lowest first: | & (<< >>) (+ -) (* /)
    const LEVELS = [['|'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/']];
    if (level === LEVELS.length) return this.term(need);
    let e = this.arith(need, level + 1);
    for (;;) {
      const t = this.peek();
      if (t === undefined || t.t !== 'op' || !LEVELS[level].includes(t.v)) return e;
      this.k++;
      const r = this.arith(need, level + 1);
      if (t.v === '/') e = `(((${r}) >>> 0) === 0 ? (oob = 1, 0) : Math.floor((${e}) / (${r})) >>> 0)`;
      else if (t.v === '-' || t.v === '+' || t.v === '*') e = `((${t.v === '*' ? `Math.imul(${e}, ${r})` : `(${e}) ${t.v} (${r})`}) >>> 0)`;
      else if (t.v === '<<' || t.v === '>>') e = `(((${e}) ${t.v === '<<' ? '<<' : '>>>'} ((${r}) & 31)) >>> 0)`;
      else e = `(((${e}) ${t.v} (${r})) >>> 0)`;
    }
  }

  private term(need: Set<string>): string {
    const t = this.peek();
    if (t === undefined) this.fail('expected a value');
    if (this.eat('(')) {
      const e = this.arith(need);
      if (!this.eat(')')) this.fail('expected ")"');
      return e;
    }
    this.k++;
    if (t.t === 'num') return String(num(t.v, this));
    if (t.v === 'len') return 'len';
    if (Object.hasOwn(NAMED, t.v)) return String(NAMED[t.v]);
    if (['ether', 'ip', 'arp', 'tcp', 'udp', 'icmp'].includes(t.v) && this.eat('[')) {
      const idx = this.arith(need);
      let size: 1 | 2 | 4 = 1;
      if (this.eat(':')) {
        const s = this.peek();
        if (s === undefined || s.t !== 'num' || !['1', '2', '4'].includes(s.v)) this.fail('a load size is 1, 2 or 4');
        this.k++;
        size = Number(s.v) as 1 | 2 | 4;
      }
      if (!this.eat(']')) this.fail('expected "]"');
      let base: string;
      if (t.v === 'ether') base = '0';
      else if (t.v === 'ip') {
        need.add(isIp);
        base = String(L3);
      } else if (t.v === 'arp') {
        need.add(isArp);
        base = String(L3);
      } else {
        need.add(l4Proto(PROTOS[t.v]));
        base = L4;
      }
      return ld(`(${base} + (${idx}))`, size);
    }
    this.k--;
    return this.fail('expected a number, len, a named constant or proto[offset]');
  }

  // ---- primitives -----------------------------------------------------------------------------

  private primitive(): string {
    const q: Qual = { proto: null, dir: null, kind: null };
    let t = this.peek();
    if (t === undefined) this.fail('expected a primitive');
    if (['ether', 'ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp'].includes(t.v)) {
      q.proto = t.v;
      this.k++;
    }
    if (this.is('src') || this.is('dst')) {
      q.dir = this.peek()!.v as Dir;
      this.k++;
      const n = this.toks[this.k + 1];
      if ((this.is('or') || this.is('and')) && n !== undefined && n.v === (q.dir === 'src' ? 'dst' : 'src')) {
        q.dir = `src ${this.peek()!.v} dst` as Dir;
        this.k += 2;
      }
    }
    if (this.is('host') || this.is('net') || this.is('port') || this.is('portrange')) {
      q.kind = this.peek()!.v as Qual['kind'];
      this.k++;
    }
    if (q.proto === 'ip' && this.eat('proto')) return this.ipProtoPrim();
    if (q.proto === null && q.dir === null && q.kind === null) {
      t = this.peek()!;
      if (t.v === 'greater' || t.v === 'less') {
        this.k++;
        const n = this.number();
        return t.v === 'greater' ? `(len >= ${n})` : `(len <= ${n})`;
      }
      if (t.v === 'proto') {
        // `proto N` alone: IPv4's protocol or IPv6's next header (libpcap).
        this.k++;
        return this.ipProtoPrim(true);
      }
      if (['vlan', 'mpls', 'pppoes', 'broadcast', 'multicast', 'gateway'].includes(t.v)) this.fail(`"${t.v}" is not supported here`);
      // An ID alone: the previous primitive's qualifiers (libpcap), or a host by default.
      if (this.last === null) q.kind = 'host';
      else Object.assign(q, this.last);
    }
    // A protocol alone: `tcp`, `ip`, `arp`...
    if (q.dir === null && q.kind === null && q.proto !== null && (this.atEnd() || this.atBoolOp())) return this.protoAlone(q.proto);
    if (q.kind === null) q.kind = q.proto === 'ether' ? 'host' : this.looksLikeNet() ? 'net' : 'host';
    this.last = { ...q };
    return this.valued(q);
  }

  private atEnd(): boolean {
    return this.k >= this.toks.length;
  }

  private atBoolOp(): boolean {
    return this.is('and') || this.is('or') || this.is('&&') || this.is('||') || this.is(')');
  }

  private looksLikeNet(): boolean {
    const t = this.peek();
    return t !== undefined && (t.v.includes('/') || (t.t === 'word' && /^\d+(\.\d+){0,2}$/.test(t.v)));
  }

  private protoAlone(p: string): string {
    if (p === 'ip') return `(${isIp})`;
    if (p === 'ip6') return `(${isIp6})`;
    if (p === 'arp') return `(${isArp})`;
    if (p === 'ether') this.fail('"ether" needs host, src or dst');
    const n = PROTOS[p];
    return p === 'icmp' ? ipProto(n) : `(${ipProto(n)} || ${ip6Proto(n)})`;
  }

  private ipProtoPrim(ip6 = false): string {
    const t = this.peek();
    if (t === undefined) this.fail('expected a protocol');
    this.k++;
    const n = t.t === 'num' ? num(t.v, this) : PROTOS[t.v];
    if (n === undefined || n > 255) this.fail(`unknown protocol "${t.v}"`);
    return ip6 ? `(${ipProto(n)} || ${ip6Proto(n)})` : ipProto(n);
  }

  private number(): number {
    const t = this.peek();
    if (t === undefined || t.t !== 'num') this.fail('expected a number');
    this.k++;
    return num(t.v, this);
  }

  private valued(q: Qual): string {
    const t = this.peek();
    if (t === undefined) this.fail(`expected a value after ${q.kind}`);
    this.k++;
    const dir = q.dir ?? 'src or dst';
    const both = (src: string, dst: string) =>
      dir === 'src' ? src : dir === 'dst' ? dst : dir === 'src and dst' ? `(${src} && ${dst})` : `(${src} || ${dst})`;
    if (q.proto === 'ether') {
      const mac = tryParseMac(t.v);
      if (mac === null) this.fail(`"${t.v}" is not a MAC address`);
      const eq = (off: number) => `(${ld(off, 4)} === ${((mac[0] << 24) | (mac[1] << 16) | (mac[2] << 8) | mac[3]) >>> 0} && ${ld(off + 4, 2)} === ${(mac[4] << 8) | mac[5]})`;
      return both(eq(ETH_SRC), eq(ETH_DST));
    }
    if (q.kind === 'host' || q.kind === 'net') {
      let addr: number | null;
      let mask = 0xffffffff;
      if (q.kind === 'net') {
        const [a, l] = t.v.split('/');
        const parts = a.split('.');
        addr = tryParseIPv4([...parts, ...Array(4 - parts.length).fill('0')].join('.'));
        let len = l !== undefined ? Number(l) : parts.length * 8;
        if (this.eat('mask')) {
          const m = this.peek();
          const mv = m === undefined ? null : tryParseIPv4(m.v);
          if (mv === null) this.fail('expected a netmask');
          this.k++;
          mask = mv;
          len = -1;
        }
        if (len >= 0) {
          if (!(len >= 0 && len <= 32)) this.fail(`bad prefix length in "${t.v}"`);
          mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        }
        if (addr !== null && (addr & ~mask) !== 0) this.fail(`non-network bits set in "${t.v}"`);
      } else addr = tryParseIPv4(t.v);
      if (addr === null) this.fail(`"${t.v}" is not an IPv4 address`);
      const m = (off: number) => (mask === 0xffffffff ? `${ld(off, 4)} === ${addr}` : `((${ld(off, 4)} & ${mask}) >>> 0) === ${(addr & mask) >>> 0}`);
      const ip = `(${isIp} && ${both(m(L3 + IPV4_SADDR), m(L3 + IPV4_DADDR))})`;
      const arp = `(${isArp} && ${both(m(L3 + ARP_SPA), m(L3 + ARP_TPA))})`;
      if (q.proto === 'ip') return ip;
      if (q.proto === 'arp') return arp;
      if (q.proto !== null) this.fail(`"${q.proto} ${q.kind}" is not supported (use ip or arp)`);
      return `(${ip} || ${arp})`;
    }
    // port / portrange
    let lo: number;
    let hi: number;
    if (q.kind === 'portrange') {
      const m = /^(\d+)-(\d+)$/.exec(t.v);
      if (m === null) this.fail('expected a port range N-M');
      [lo, hi] = [Number(m[1]), Number(m[2])].sort((x, y) => x - y);
    } else {
      if (t.t !== 'num') this.fail(`"${t.v}" is not a port number (names are not looked up)`);
      lo = hi = num(t.v, this);
    }
    if (hi > 65535) this.fail(`port ${hi} is out of range`);
    const pm = (off: string) => (lo === hi ? `${ld(off, 2)} === ${lo}` : `(${ld(off, 2)} >= ${lo} && ${ld(off, 2)} <= ${hi})`);
    const ports = (base: string) => both(pm(`(${base} + ${UDP_SOURCE})`), pm(`(${base} + ${UDP_DEST})`));
    const protos = q.proto === 'tcp' || q.proto === 'udp' ? [PROTOS[q.proto]] : [IPPROTO_TCP, IPPROTO_UDP];
    if (q.proto !== null && q.proto !== 'tcp' && q.proto !== 'udp' && q.proto !== 'ip' && q.proto !== 'ip6') this.fail(`"${q.proto} port" is not supported`);
    const v4 = `(${isIp} && (${protos.map((p) => `${ld(L3 + IPV4_PROTOCOL, 1)} === ${p}`).join(' || ')}) && ${notFrag} && ${ports(L4)})`;
    const v6 = `(${isIp6} && (${protos.map((p) => `${ld(L3 + IP6_NEXTHDR, 1)} === ${p}`).join(' || ')}) && ${ports(String(L3 + IP6_HLEN))})`;
    return q.proto === 'ip' ? v4 : q.proto === 'ip6' ? v6 : `(${v4} || ${v6})`;
  }
}

function num(v: string, c: Compiler): number {
  const n = v.startsWith('0x') || v.startsWith('0X') ? parseInt(v, 16) : Number(v);
  if (!Number.isFinite(n) || n > 0xffffffff) c.fail(`bad number "${v}"`);
  return n >>> 0;
}

import { TCP_SERVICE_KINDS } from '../transport/tcp/services.ts';
import { UDP_SERVICE_KINDS } from '../transport/udp-services.ts';

/**
 * The stack's configuration and its schema, checked by hand so that every error names the path
 * (`ports[1].mode`) and the problem, and unknown keys are refused (a typo must not silently
 * leave a default in place).
 */

export type ConfigMode = 'auto' | 'xdp-zc' | 'xdp-drv' | 'xdp-skb' | 'tap' | 'memory';
export const MODES: readonly ConfigMode[] = ['auto', 'xdp-zc', 'xdp-drv', 'xdp-skb', 'tap', 'memory'];

/**
 * `csum_partial` of a port: complete partial (CHECKSUM_PARTIAL) TCP/UDP checksums that a veth
 * peer with tx checksumming on hands over. `auto` (the default): on when the device's driver is
 * veth, off for every other driver (real NICs never deliver partial checksums). `on`/`off` force it.
 */
export type CsumPartialMode = 'auto' | 'on' | 'off';
export const CSUM_PARTIAL_MODES: readonly CsumPartialMode[] = ['auto', 'on', 'off'];

export interface VlanConfig {
  id: number;
  /** Sub-interface name; default `PORT.ID`. */
  name?: string;
  addresses: string[];
  mtu?: number;
}

export interface PortConfig {
  name: string;
  dev: string;
  queue: number;
  mode: ConfigMode;
  addresses: string[];
  mtu: number;
  /**
   * An XDP-style filter: a module path (runs in JS), or {module, offload: auto | kernel | js}:
   * compiled to eBPF and run in the driver (auto: when it compiles, else JS with a log line).
   */
  xdp?: string | XdpConfig;
  vlans: VlanConfig[];
  /** Complete partial checksums from veth peers; see CsumPartialMode. Default `auto`. */
  csum_partial?: CsumPartialMode;
}

export interface XdpConfig {
  module: string;
  offload: 'auto' | 'kernel' | 'js';
}
const XDP_KEYS = ['module', 'offload'] as const;
const OFFLOADS = ['auto', 'kernel', 'js'] as const;

export interface NapiConfig {
  weight: number;
  budget: number;
  busy_poll: boolean;
  /** Keep idle ports' interrupts masked while the loop has work (Napi deferHardIrqs). */
  defer_hard_irqs: boolean;
  /** CPU to pin the poll-loop thread to (the thread only, not V8's helpers); -1 = not pinned. */
  cpu: number;
}

/**
 * A built-in service on a socket of the stack (inetd's internal services): `{proto: udp, port: 7,
 * kind: echo}`. The kinds each protocol offers are in SERVICE_KINDS; `address` (default: all of
 * the stack's addresses) binds to one.
 */
export interface ServiceConfig {
  proto: ServiceProto;
  port: number;
  kind: string;
  address?: string;
}

export type ServiceProto = 'udp' | 'tcp';

/** Service kinds per protocol, as the transport implements them: echo, discard; TCP also a small HTTP responder. */
export const SERVICE_KINDS: Record<ServiceProto, readonly string[]> = {
  udp: UDP_SERVICE_KINDS,
  tcp: TCP_SERVICE_KINDS,
};

export interface Config {
  name: string;
  /** Control socket path; default /run/softnet/NAME.sock. */
  control: string;
  ports: PortConfig[];
  routes: string[];
  netfilter: string[];
  sysctl: Record<string, string | number>;
  napi: NapiConfig;
  services: ServiceConfig[];
}

export interface ConfigProblem {
  path: string;
  problem: string;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    readonly file?: string,
  ) {
    super(
      (file ? `config ${file}: ` : 'config: ') +
        problems.map((p) => (p.path ? `${p.path}: ${p.problem}` : p.problem)).join('\n  '),
    );
    this.name = 'ConfigError';
  }
}

export const DEFAULT_NAPI: NapiConfig = { weight: 64, budget: 300, busy_poll: false, defer_hard_irqs: true, cpu: -1 };

export function defaultControlPath(name: string): string {
  return `/run/softnet/${name}.sock`;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** True if `s` is a.b.c.d/len with octets ≤ 255 and len ≤ 32. */
export function isCidr(s: string): boolean {
  const m = CIDR_RE.exec(s);
  if (!m) return false;
  for (let i = 1; i <= 4; i++) if (Number(m[i]) > 255) return false;
  return Number(m[5]) <= 32;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Collects problems while walking the raw document. */
class Checker {
  readonly problems: ConfigProblem[] = [];

  fail(path: string, problem: string): void {
    this.problems.push({ path, problem });
  }

  /** A mapping with only `allowed` keys; returns it or null. */
  object(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> | null {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `expected a mapping, got ${describe(v)}`);
      return null;
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `unknown key (allowed: ${allowed.join(', ')})`);
    }
    return o;
  }

  string(v: unknown, path: string, re?: RegExp, what?: string): string | undefined {
    if (typeof v !== 'string' || v.length === 0) {
      this.fail(path, `expected a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    if (re && !re.test(v)) {
      this.fail(path, `${JSON.stringify(v)} is not ${what ?? `a match for ${re}`}`);
      return undefined;
    }
    return v;
  }

  int(v: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(path, `expected an integer, got ${describe(v)}`);
      return undefined;
    }
    if (v < min || v > max) {
      this.fail(path, `${v} is out of range ${min}..${max}`);
      return undefined;
    }
    return v;
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (typeof v !== 'boolean') {
      this.fail(path, `expected true or false, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  list(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) {
      this.fail(path, `expected a list, got ${describe(v)}`);
      return [];
    }
    return v;
  }

  stringList(v: unknown, path: string): string[] {
    const out: string[] = [];
    this.list(v, path).forEach((x, i) => {
      const s = this.string(x, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  addresses(v: unknown, path: string): string[] {
    const out: string[] = [];
    this.list(v, path).forEach((x, i) => {
      const p = `${path}[${i}]`;
      if (typeof x !== 'string' || !isCidr(x)) {
        this.fail(p, `expected an IPv4 address with prefix length like 10.1.0.1/24, got ${describe(x)}`);
      } else out.push(x);
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const TOP_KEYS = ['name', 'control', 'ports', 'routes', 'netfilter', 'sysctl', 'napi', 'services'] as const;
const PORT_KEYS = ['name', 'dev', 'queue', 'mode', 'addresses', 'mtu', 'xdp', 'vlans', 'csum_partial'] as const;
const VLAN_KEYS = ['id', 'name', 'addresses', 'mtu'] as const;
const NAPI_KEYS = ['weight', 'budget', 'busy_poll', 'defer_hard_irqs', 'cpu'] as const;
const SERVICE_KEYS = ['proto', 'port', 'kind', 'address'] as const;

/**
 * Validate a parsed YAML/JSON document. Returns the config with defaults filled in, or throws a
 * ConfigError listing every problem found (not just the first).
 */
export function validateConfig(raw: unknown, file?: string): Config {
  const c = new Checker();
  const top = c.object(raw, '', TOP_KEYS);
  if (top === null) throw new ConfigError(c.problems, file);

  const name = top.name === undefined ? (c.fail('name', 'required (the stack name, e.g. r1)'), 'softnet') : c.string(top.name, 'name', /^[A-Za-z0-9_.-]{1,64}$/, 'a name of 1-64 of A-Z a-z 0-9 _ . -') ?? 'softnet';
  const control = top.control === undefined ? defaultControlPath(name) : c.string(top.control, 'control') ?? '';

  const ports: PortConfig[] = [];
  const devNames = new Set<string>();
  const claim = (n: string, path: string) => {
    if (devNames.has(n)) c.fail(path, `device name ${JSON.stringify(n)} is used twice`);
    devNames.add(n);
  };
  if (top.ports === undefined) c.fail('ports', 'required: a list of ports, e.g. [{name: p0, dev: veth0}]');
  else {
    const list = c.list(top.ports, 'ports');
    if (Array.isArray(top.ports) && list.length === 0) c.fail('ports', 'needs at least one port');
    list.forEach((rp, i) => {
      const path = `ports[${i}]`;
      const p = c.object(rp, path, PORT_KEYS);
      if (p === null) return;
      const pname = p.name === undefined ? (c.fail(`${path}.name`, 'required'), `p${i}`) : c.string(p.name, `${path}.name`, NAME_RE, 'a device name (1-15 of A-Z a-z 0-9 _ . -)') ?? `p${i}`;
      claim(pname, `${path}.name`);
      const dev = p.dev === undefined ? (c.fail(`${path}.dev`, 'required (the interface to attach to, or the TAP to create)'), '') : c.string(p.dev, `${path}.dev`, NAME_RE, 'an interface name (1-15 characters)') ?? '';
      const queue = p.queue === undefined ? 0 : c.int(p.queue, `${path}.queue`, 0, 1023) ?? 0;
      let mode: ConfigMode = 'auto';
      if (p.mode !== undefined) {
        if (typeof p.mode !== 'string' || !(MODES as readonly string[]).includes(p.mode)) c.fail(`${path}.mode`, `expected one of ${MODES.join(' | ')}, got ${describe(p.mode)}`);
        else mode = p.mode as ConfigMode;
      }
      const addresses = p.addresses === undefined ? [] : c.addresses(p.addresses, `${path}.addresses`);
      const mtu = p.mtu === undefined ? 1500 : c.int(p.mtu, `${path}.mtu`, 68, 9000) ?? 1500;
      let xdp: string | XdpConfig | undefined;
      if (typeof p.xdp === 'string' || p.xdp === undefined) xdp = p.xdp === undefined ? undefined : c.string(p.xdp, `${path}.xdp`);
      else {
        const x = c.object(p.xdp, `${path}.xdp`, XDP_KEYS);
        if (x !== null) {
          const module = x.module === undefined ? (c.fail(`${path}.xdp.module`, 'required (the filter module, e.g. ./filters/blocklist.ts)'), '') : c.string(x.module, `${path}.xdp.module`) ?? '';
          let offload: XdpConfig['offload'] = 'auto';
          if (x.offload !== undefined) {
            if (typeof x.offload !== 'string' || !(OFFLOADS as readonly string[]).includes(x.offload)) c.fail(`${path}.xdp.offload`, `expected one of ${OFFLOADS.join(' | ')}, got ${describe(x.offload)}`);
            else offload = x.offload as XdpConfig['offload'];
          }
          xdp = { module, offload };
        }
      }
      const vlans: VlanConfig[] = [];
      if (p.vlans !== undefined) {
        const ids = new Set<number>();
        c.list(p.vlans, `${path}.vlans`).forEach((rv, j) => {
          const vp = `${path}.vlans[${j}]`;
          const v = c.object(rv, vp, VLAN_KEYS);
          if (v === null) return;
          const id = v.id === undefined ? (c.fail(`${vp}.id`, 'required (802.1Q VLAN id 1..4094)'), undefined) : c.int(v.id, `${vp}.id`, 1, 4094);
          if (id !== undefined) {
            if (ids.has(id)) c.fail(`${vp}.id`, `VLAN ${id} is configured twice on ${pname}`);
            ids.add(id);
          }
          const vname = v.name === undefined ? `${pname}.${id ?? j}` : c.string(v.name, `${vp}.name`, NAME_RE, 'a device name (1-15 of A-Z a-z 0-9 _ . -)') ?? `${pname}.${j}`;
          if (vname.length > 15) c.fail(`${vp}.name`, `default name ${vname} is longer than 15 characters: set name`);
          claim(vname, `${vp}.name`);
          const vaddrs = v.addresses === undefined ? [] : c.addresses(v.addresses, `${vp}.addresses`);
          const vmtu = v.mtu === undefined ? undefined : c.int(v.mtu, `${vp}.mtu`, 68, 9000);
          vlans.push({ id: id ?? 0, name: vname, addresses: vaddrs, ...(vmtu !== undefined ? { mtu: vmtu } : {}) });
        });
      }
      let csumPartial: CsumPartialMode | undefined;
      if (typeof p.csum_partial === 'boolean') csumPartial = p.csum_partial ? 'on' : 'off';
      else if (p.csum_partial !== undefined) {
        if (typeof p.csum_partial !== 'string' || !(CSUM_PARTIAL_MODES as readonly string[]).includes(p.csum_partial)) c.fail(`${path}.csum_partial`, `expected one of ${CSUM_PARTIAL_MODES.join(' | ')}, got ${describe(p.csum_partial)}`);
        else csumPartial = p.csum_partial as CsumPartialMode;
      }
      ports.push({ name: pname, dev, queue, mode, addresses, mtu, ...(xdp !== undefined ? { xdp } : {}), vlans, ...(csumPartial !== undefined ? { csum_partial: csumPartial } : {}) });
    });
  }

  const routes = top.routes === undefined ? [] : c.stringList(top.routes, 'routes');
  const netfilter = top.netfilter === undefined ? [] : c.stringList(top.netfilter, 'netfilter');

  const sysctl: Record<string, string | number> = {};
  if (top.sysctl !== undefined) {
    const s = c.object(top.sysctl, 'sysctl', Object.keys(top.sysctl ?? {}));
    if (s !== null) {
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number' || typeof v === 'string') sysctl[k] = v;
        else if (typeof v === 'boolean') sysctl[k] = v ? 1 : 0;
        else c.fail(`sysctl.${k}`, `expected a number or string, got ${describe(v)}`);
      }
    }
  }

  const napi: NapiConfig = { ...DEFAULT_NAPI };
  if (top.napi !== undefined) {
    const n = c.object(top.napi, 'napi', NAPI_KEYS);
    if (n !== null) {
      if (n.weight !== undefined) napi.weight = c.int(n.weight, 'napi.weight', 1, 4096) ?? napi.weight;
      if (n.budget !== undefined) napi.budget = c.int(n.budget, 'napi.budget', 1, 65536) ?? napi.budget;
      if (n.busy_poll !== undefined) napi.busy_poll = c.bool(n.busy_poll, 'napi.busy_poll') ?? false;
      if (n.defer_hard_irqs !== undefined) napi.defer_hard_irqs = c.bool(n.defer_hard_irqs, 'napi.defer_hard_irqs') ?? true;
      if (n.cpu !== undefined) napi.cpu = c.int(n.cpu, 'napi.cpu', 0, 1023) ?? -1;
    }
  }

  const services: ServiceConfig[] = [];
  if (top.services !== undefined) {
    const taken = new Set<string>();
    c.list(top.services, 'services').forEach((rs, i) => {
      const path = `services[${i}]`;
      const o = c.object(rs, path, SERVICE_KEYS);
      if (o === null) return;
      const protos = Object.keys(SERVICE_KINDS) as ServiceProto[];
      let proto: ServiceProto | undefined;
      if (o.proto === undefined) c.fail(`${path}.proto`, `required (${protos.join(' | ')})`);
      else if (typeof o.proto !== 'string' || !(protos as string[]).includes(o.proto)) c.fail(`${path}.proto`, `expected one of ${protos.join(' | ')}, got ${describe(o.proto)}`);
      else proto = o.proto as ServiceProto;
      const port = o.port === undefined ? (c.fail(`${path}.port`, 'required (1..65535)'), undefined) : c.int(o.port, `${path}.port`, 1, 65535);
      let kind: string | undefined;
      if (o.kind === undefined) c.fail(`${path}.kind`, 'required (echo, discard...)');
      else if (proto !== undefined) {
        const kinds = SERVICE_KINDS[proto];
        if (typeof o.kind !== 'string' || !kinds.includes(o.kind)) c.fail(`${path}.kind`, kinds.length ? `expected one of ${kinds.join(' | ')} for ${proto}, got ${describe(o.kind)}` : `no ${proto} services are built in yet`);
        else kind = o.kind;
      }
      let address: string | undefined;
      if (o.address !== undefined) {
        const a = c.string(o.address, `${path}.address`, /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'an IPv4 address like 10.1.0.1');
        if (a !== undefined && a.split('.').some((x) => Number(x) > 255)) c.fail(`${path}.address`, `${JSON.stringify(a)} is not an IPv4 address`);
        else address = a;
      }
      if (proto !== undefined && port !== undefined) {
        const key = `${proto}/${address ?? '0.0.0.0'}:${port}`;
        if (taken.has(key)) c.fail(`${path}.port`, `${proto} port ${port} is used by another service`);
        taken.add(key);
      }
      if (proto !== undefined && port !== undefined && kind !== undefined) services.push({ proto, port, kind, ...(address !== undefined ? { address } : {}) });
    });
  }

  if (c.problems.length > 0) throw new ConfigError(c.problems, file);
  return { name, control, ports, routes, netfilter, sysctl, napi, services };
}

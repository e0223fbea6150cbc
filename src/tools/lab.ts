// A reproducible lab of network namespaces and veth pairs for tests, demos and benchmarks.
//
//   ns sn-N-a                      root ns (softnet)                      ns sn-N-b
//   snN-a1 10.1.0.2/24  <--veth-->  snN-a0 (no IP)   snN-b0 (no IP)  <--veth-->  snN-b1 10.2.0.2/24
//   default via 10.1.0.1                                                       default via 10.2.0.1
//
// The softnet-side ends have no address and IPv6 off, so the root kernel sends nothing on them.
// With `linuxRouter`, snN-a0/snN-b0 go into ns sn-N-r with 10.1.0.1/24 and 10.2.0.1/24 and
// ip_forward=1: the Linux forwarding baseline. Every name carries the lab name; `labDown`
// removes exactly those names.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface LabHost {
  ns: string;
  dev: string;
  /** Dotted quad, and host-order u32. */
  ip: string;
  ipNum: number;
  gw: string;
  gwNum: number;
  mac: string;
  ifindex: number;
}

/** One side of the lab: a host namespace and the veth end softnet (or the Linux router) owns. */
export interface LabLink {
  host: LabHost;
  /** The softnet-side veth end (in the root namespace, or sn-N-r with linuxRouter). */
  dev: string;
  ns: string | null;
  mac: string;
  ifindex: number;
  /** The address softnet (or the Linux router) answers for on this side: the hosts' gateway. */
  ip: string;
  ipNum: number;
}

export interface Lab {
  name: string;
  /** Namespace of the Linux router, or null when the softnet side is the root namespace. */
  router: string | null;
  a: LabLink;
  b: LabLink;
  /** Every namespace and root-namespace link the lab owns (what `labDown` removes). */
  namespaces: string[];
  links: string[];
}

export interface LabOptions {
  name?: string;
  /** Put the softnet-side ends in ns sn-N-r with addresses and ip_forward=1 (Linux baseline). */
  linuxRouter?: boolean;
  /** Add permanent ARP entries for the gateway in the hosts, so traffic flows with nothing answering ARP. */
  staticArp?: boolean;
  /** txqueuelen of every lab veth end (default 10000: the default 1000 drops under load). */
  txqueuelen?: number;
  /** RX/TX queues per veth end (default 1): for multi-queue / RSS work. */
  queues?: number;
  /**
   * Leave the hosts' tx checksum offload on, as the kernel makes it: their UDP/TCP frames then
   * reach the router with partial checksums, which softnet completes on veth ports
   * (csum_partial). Default off: the baselines (the C forwarder, the bench) cannot complete them.
   */
  hostTxCsum?: boolean;
}

export class LabError extends Error {
  constructor(
    message: string,
    readonly code: 'EXISTS' | 'NAME' | 'CMD' | 'MISSING',
  ) {
    super(message);
    this.name = 'LabError';
  }
}

export const DEFAULT_LAB = 'lab';

/** Lab names become part of interface names (15 chars max): 1–6 of [a-z0-9], starting with a letter. */
export function checkLabName(name: string): void {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(name)) {
    throw new LabError(
      `lab name '${name}' is invalid: use 1-6 characters [a-z0-9] starting with a letter ` +
        `(it becomes part of interface names like sn${name}-a0, which Linux limits to 15 characters)`,
      'NAME',
    );
  }
}

/** The names a lab uses, without touching the system. */
export function labNames(name: string) {
  checkLabName(name);
  return {
    nsA: `sn-${name}-a`,
    nsB: `sn-${name}-b`,
    nsR: `sn-${name}-r`,
    a0: `sn${name}-a0`,
    a1: `sn${name}-a1`,
    b0: `sn${name}-b0`,
    b1: `sn${name}-b1`,
  };
}

// Fixed MACs make captures and tests reproducible: 02:00 (locally administered) + the IPv4 address.
const MAC = { a0: '02:00:0a:01:00:01', a1: '02:00:0a:01:00:02', b0: '02:00:0a:02:00:01', b1: '02:00:0a:02:00:02' };

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run argv in namespace ns (null: the current one) and wait. Never throws for a non-zero exit
 * unless `check` is set; always resolves with the output.
 */
export function nsExec(
  ns: string | null,
  argv: readonly string[],
  opts: { check?: boolean; timeoutMs?: number; input?: string } = {},
): Promise<ExecResult> {
  const full = ns === null ? [...argv] : ['ip', 'netns', 'exec', ns, ...argv];
  return new Promise((resolve, reject) => {
    const child = execFile(
      full[0],
      full.slice(1),
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        const r = { code, stdout: String(stdout), stderr: String(stderr) };
        if (code !== 0 && opts.check) {
          reject(new LabError(`'${full.join(' ')}' failed (exit ${code}): ${r.stderr.trim() || err?.message}`, 'CMD'));
        } else resolve(r);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * Start argv in namespace ns (null: the current one) and return the process; kill it by its PID
 * (`ip netns exec` execs the command, so the PID is the command's own). stdout/stderr are pipes
 * by default: read them, or pass `stdio`, or a chatty child blocks once a pipe fills.
 */
export function spawnInNs(ns: string | null, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const full = ns === null ? [...argv] : ['ip', 'netns', 'exec', ns, ...argv];
  return spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

async function run(ns: string | null, ...argv: string[]): Promise<string> {
  return (await nsExec(ns, argv, { check: true })).stdout;
}

async function listNamespaces(): Promise<Set<string>> {
  const r = await nsExec(null, ['ip', '-j', 'netns', 'list']);
  const out = new Set<string>();
  if (r.code !== 0 || r.stdout.trim() === '') return out;
  for (const e of JSON.parse(r.stdout) as { name: string }[]) out.add(e.name);
  return out;
}

async function linkExists(ns: string | null, dev: string): Promise<boolean> {
  return (await nsExec(ns, ['ip', 'link', 'show', 'dev', dev])).code === 0;
}

async function linkInfo(ns: string | null, dev: string): Promise<{ mac: string; ifindex: number }> {
  const r = await nsExec(ns, ['ip', '-j', 'link', 'show', 'dev', dev]);
  if (r.code !== 0) throw new LabError(`lab: interface ${dev} not found${ns ? ` in namespace ${ns}` : ''}`, 'MISSING');
  const [l] = JSON.parse(r.stdout) as { address: string; ifindex: number }[];
  return { mac: l.address, ifindex: l.ifindex };
}

/** What exists of lab `name` now: namespaces and root-namespace links. */
export async function labParts(name: string): Promise<{ namespaces: string[]; links: string[] }> {
  const n = labNames(name);
  const have = await listNamespaces();
  const namespaces = [n.nsA, n.nsB, n.nsR].filter((x) => have.has(x));
  const links: string[] = [];
  for (const d of [n.a0, n.b0]) if (await linkExists(null, d)) links.push(d);
  return { namespaces, links };
}

/** Create the lab. Throws LabError('EXISTS') if any part of it exists; cleans up after itself on failure. */
export async function labUp(opts: LabOptions = {}): Promise<Lab> {
  const name = opts.name ?? DEFAULT_LAB;
  const n = labNames(name);
  const parts = await labParts(name);
  if (parts.namespaces.length || parts.links.length) {
    throw new LabError(
      `lab '${name}' is already up (${[...parts.namespaces, ...parts.links].join(', ')}); ` +
        `run 'softnet lab down --name ${name}' first`,
      'EXISTS',
    );
  }
  const qlen = String(opts.txqueuelen ?? 10000);
  const queues = opts.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > 64) throw new LabError(`lab: queues must be 1..64, got ${queues}`, 'NAME');
  const nq = queues > 1 ? ['numtxqueues', String(queues), 'numrxqueues', String(queues)] : [];
  try {
    const router = opts.linuxRouter ? n.nsR : null;
    for (const ns of [n.nsA, n.nsB, ...(router ? [router] : [])]) {
      await run(null, 'ip', 'netns', 'add', ns);
      await run(ns, 'ip', 'link', 'set', 'lo', 'up');
      // IPv4 only: no router solicitations / DAD / MLD noise on the wire.
      await run(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    }
    const sides = [
      { s0: n.a0, s1: n.a1, ns: n.nsA, mac0: MAC.a0, mac1: MAC.a1, net: '10.1.0' },
      { s0: n.b0, s1: n.b1, ns: n.nsB, mac0: MAC.b0, mac1: MAC.b1, net: '10.2.0' },
    ];
    for (const s of sides) {
      // Create both ends in the root namespace (so a failure leaves a root link labDown finds),
      // then move the host end.
      await run(null, 'ip', 'link', 'add', s.s0, 'address', s.mac0, 'txqueuelen', qlen, ...nq, 'type', 'veth',
        'peer', 'name', s.s1, 'address', s.mac1, 'txqueuelen', qlen, ...nq);
      await run(null, 'ip', 'link', 'set', s.s1, 'netns', s.ns);
      if (router) {
        await run(null, 'ip', 'link', 'set', s.s0, 'netns', router);
      } else {
        await run(null, 'sysctl', '-qw', `net.ipv6.conf.${s.s0}.disable_ipv6=1`);
      }
      // GRO gives the veth a NAPI context, which XDP_TX/redirect into it needs (see notes).
      await run(router, 'ethtool', '-K', s.s0, 'gro', 'on');
      await run(s.ns, 'ethtool', '-K', s.s1, 'gro', 'on');
      // Kernel hosts hand veth frames with partial (offloaded) UDP/TCP checksums, which no real
      // wire carries; only softnet completes them (the C forwarder would pass them on and B would
      // drop every datagram), so by default the hosts compute them in software.
      if (!opts.hostTxCsum) await run(s.ns, 'ethtool', '-K', s.s1, 'tx', 'off');
      await run(s.ns, 'ip', 'addr', 'add', `${s.net}.2/24`, 'dev', s.s1);
      await run(s.ns, 'ip', 'link', 'set', s.s1, 'up');
      if (router) await run(router, 'ip', 'addr', 'add', `${s.net}.1/24`, 'dev', s.s0);
      await run(router, 'ip', 'link', 'set', s.s0, 'up');
      await run(s.ns, 'ip', 'route', 'add', 'default', 'via', `${s.net}.1`);
      if (opts.staticArp) {
        await run(s.ns, 'ip', 'neigh', 'replace', `${s.net}.1`, 'lladdr', s.mac0, 'dev', s.s1, 'nud', 'permanent');
      }
    }
    if (router) await run(router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    return await labShow(name);
  } catch (e) {
    await labDown(name).catch(() => undefined);
    throw e;
  }
}

/** Remove exactly lab `name`'s namespaces and root links. Returns what was removed (empty: nothing was there). */
export async function labDown(name: string = DEFAULT_LAB): Promise<string[]> {
  const parts = await labParts(name);
  const removed: string[] = [];
  // Deleting a veth end deletes its peer; deleting a namespace deletes the veths inside it.
  for (const d of parts.links) {
    if ((await nsExec(null, ['ip', 'link', 'del', 'dev', d])).code === 0) removed.push(d);
  }
  for (const ns of parts.namespaces) {
    if ((await nsExec(null, ['ip', 'netns', 'del', ns])).code === 0) removed.push(ns);
  }
  return removed;
}

/** Describe an existing lab from the system (MACs, ifindexes). Throws LabError('MISSING') if it is not up. */
export async function labShow(name: string = DEFAULT_LAB): Promise<Lab> {
  const n = labNames(name);
  const parts = await labParts(name);
  if (!parts.namespaces.includes(n.nsA) || !parts.namespaces.includes(n.nsB)) {
    throw new LabError(`lab '${name}' is not up (no namespaces ${n.nsA}, ${n.nsB}); run 'softnet lab up --name ${name}'`, 'MISSING');
  }
  const router = parts.namespaces.includes(n.nsR) ? n.nsR : null;
  const side = async (ns: string, s0: string, s1: string, net: string): Promise<LabLink> => {
    const h = await linkInfo(ns, s1);
    const s = await linkInfo(router, s0);
    const ipNum = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0) >>> 0;
    return {
      host: { ns, dev: s1, ip: `${net}.2`, ipNum: ipNum(`${net}.2`), gw: `${net}.1`, gwNum: ipNum(`${net}.1`), ...h },
      dev: s0,
      ns: router,
      ...s,
      ip: `${net}.1`,
      ipNum: ipNum(`${net}.1`),
    };
  };
  return {
    name,
    router,
    a: await side(n.nsA, n.a0, n.a1, '10.1.0'),
    b: await side(n.nsB, n.b0, n.b1, '10.2.0'),
    ...parts,
  };
}

/** A device's kernel counters (/sys/class/net/DEV/statistics/*) in namespace ns. */
export async function devStats(ns: string | null, dev: string): Promise<Record<string, number>> {
  const r = await nsExec(ns, ['ip', '-j', '-s', 'link', 'show', 'dev', dev], { check: true });
  const [l] = JSON.parse(r.stdout) as { stats64: { rx: Record<string, number>; tx: Record<string, number> } }[];
  const o: Record<string, number> = {};
  for (const [k, v] of Object.entries(l.stats64.rx)) o[`rx_${k}`] = v;
  for (const [k, v] of Object.entries(l.stats64.tx)) o[`tx_${k}`] = v;
  return o;
}

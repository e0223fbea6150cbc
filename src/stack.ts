/**
 * The softnet stack as a library: one UMEM and frame pool shared by all ports, the stage graph,
 * the poll loop, L2 and IPv4 wired in the order the kernel's init calls run (core, then
 * dev_add_pack for ARP and IPv4), a control socket and one timer for neighbour/reassembly aging.
 *
 *   const s = new Stack({ name: 'r1' });
 *   await s.addPort({ name: 'p0', dev: 'veth0', mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
 *   s.route('add 10.3.0.0/16 via 10.1.0.2');
 *   await s.start();           // … await s.stop();
 *
 * Everything here is control plane (runs at setup or on a control request): it may allocate.
 */
import { Batch } from './core/batch.ts';
import { Counters } from './core/counters.ts';
import { DevXmit } from './core/dev-xmit.ts';
import { EthInput } from './core/eth-input.ts';
import { Graph, type RuntimeRow, type Stage } from './core/graph.ts';
import { Napi } from './core/napi.ts';
import type { NetDevice } from './core/netdev.ts';
import { NetDevices } from './core/netdev.ts';
import { PtypeTable } from './core/ptype.ts';
import { Taps, type Tap } from './core/taps.ts';
import { loadXdpFilter, XdpHook, type XdpFilter } from './core/xdp.ts';
import { MemoryPort } from './driver/memory.ts';
import { openPort } from './driver/open.ts';
import { FramePool } from './driver/pool.ts';
import type { Port } from './driver/port.ts';
import { memoryUmem, type Umem } from './driver/umem.ts';
import { nativeUmem, pinThread } from './driver/native.ts';
import { registerL2, type L2, type NeighOptions } from './l2/index.ts';
import { parseMac } from './l2/eth.ts';
import { DEFAULT_NAPI, type Config, type ConfigMode, type CsumPartialMode, type NapiConfig, type VlanConfig } from './config/schema.ts';
import { linkCsumInfo, vethPeerWarning } from './driver/veth-peer.ts';
import { Ipv4Layer } from './stack-ipv4.ts';
import { ControlServer, type ControlHandler } from './tools/control.ts';
import { controlHandlers } from './stack-control.ts';
import { LinkWatch } from './stack-link.ts';
import { OPER_NAMES } from './driver/link.ts';

export interface StackOptions {
  name: string;
  /** Control socket path; null for none (the default for library use; `up` sets one). */
  control?: string | null;
  /** 'native' (AF_XDP/TAP ports, the default) or 'memory' (MemoryPorts only: unit tests). */
  umem?: 'native' | 'memory';
  /** UMEM frames (default 4096 x 2048 B; see notes on memlock). */
  frames?: number;
  /** Vector size of the graph (default 256). */
  batch?: number;
  napi?: Partial<NapiConfig> & { timeLimitMs?: number };
  neigh?: NeighOptions;
  /** net.ipv4.* sysctls at creation (see sysctl()). */
  sysctl?: Record<string, number | string>;
  /** Aging timer period in ms (neighbour retransmit/expiry, reassembly timeout). Default 250. */
  tickMs?: number;
  /** Operational messages (a port's link went down, came back...). Default: console.error. */
  log?: (line: string) => void;
}

export interface AddPortOptions {
  name: string;
  dev: string;
  queue?: number;
  mode?: ConfigMode;
  mtu?: number;
  addresses?: string[];
  /** An XDP-style filter: a module path or the function itself. */
  xdp?: string | XdpFilter;
  vlans?: VlanConfig[];
  /** MAC softnet uses on this port (default: the device's; for TAP a derived one, see below). */
  mac?: string;
  /** Complete partial TCP/UDP checksums from a veth peer: auto (= on for veth) | on | off. */
  csum_partial?: CsumPartialMode;
}

export interface PortInfo {
  name: string;
  dev: string;
  queue: number;
  mode: string;
  mac: string;
  /** What openPort tried and took ("xdp-drv: ok (copy)", "xdp-zc: failed: ..."). */
  report: string[];
  vlans: string[];
}

export interface StackStats {
  name: string;
  uptimeSec: number;
  softnet: Array<{ queue: string; processed: number; dropped: number; time_squeeze: number }>;
  ports: Record<string, Record<string, number | string>>;
  drops: Record<string, number>;
  mib: Record<string, Record<string, number>>;
  frames: FrameAccount;
}

/** Where every UMEM frame is; `lost` must be 0 between dispatches (DESIGN: "a frame is always in exactly one place"). */
export interface FrameAccount {
  total: number;
  free: number;
  ports: number;
  neigh: number;
  ipv4: number;
  lost: number;
}

export interface CaptureOptions {
  /** Port device name (default: all ports). */
  dev?: string;
  rx?: boolean;
  tx?: boolean;
  snaplen?: number;
  /** Frames held between flushes before new ones are dropped (bounded memory). Default 4096. */
  maxQueued?: number;
}

/** A captured frame: timestamp, original length, bytes (up to snaplen). */
export interface CapturedFrame {
  sec: number;
  usec: number;
  origLen: number;
  data: Uint8Array;
  dev: number;
  tx: boolean;
}

export class Stack {
  readonly name: string;
  readonly umem: Umem;
  readonly pool: FramePool;
  readonly graph: Graph;
  readonly devs = new NetDevices();
  readonly ptype = new PtypeTable();
  readonly taps = new Taps();
  readonly xdp: XdpHook;
  readonly eth: EthInput;
  readonly xmit: DevXmit;
  readonly napi: Napi;
  readonly l2: L2;
  readonly ipv4: Ipv4Layer;
  /** Stack-level counters that are not drops: [0] control_requests, [1] capture_dropped. */
  readonly counters = new Counters('softnet', ['control_requests', 'capture_dropped']);

  private readonly ports: Port[] = [];
  private readonly infos: PortInfo[] = [];
  private control: ControlServer | null = null;
  private readonly controlPath: string | null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly tickMs: number;
  /** CPU the poll loop's thread is pinned to at start(), -1 for none (napi.cpu). */
  private readonly cpu: number;
  private startedAt = 0;
  private running = false;
  private stopped = false;
  private readonly captures = new Set<() => void>();
  private readonly extraHandlers: Record<string, ControlHandler> = {};
  /** rtnetlink link events for the ports (started by start()); null without native ports. */
  private link: LinkWatch | null = null;
  private readonly log: (line: string) => void;

  constructor(opts: StackOptions) {
    this.name = opts.name;
    this.controlPath = opts.control ?? null;
    this.tickMs = opts.tickMs ?? 250;
    this.log = opts.log ?? ((line) => console.error(line));
    this.umem = opts.umem === 'memory' ? memoryUmem(opts.frames) : nativeUmem(opts.frames);
    this.pool = new FramePool(this.umem);
    this.graph = new Graph(this.pool, opts.batch ?? 256);
    const napi = { ...DEFAULT_NAPI, ...opts.napi };
    this.cpu = napi.cpu;
    // Order of add() is the order of a pass over the graph: receive side first, transmit last,
    // so a forwarded packet crosses the graph in one pass.
    this.xdp = new XdpHook(this.devs);
    this.eth = new EthInput(this.devs, this.ptype);
    this.graph.add(this.xdp);
    this.graph.add(this.eth);
    this.ipv4 = new Ipv4Layer(this.graph, this.devs, this.ptype, opts.sysctl ?? {});
    this.l2 = registerL2(this.graph, this.devs, this.ptype, opts.neigh ?? {});
    this.l2.neigh.attach(this.graph);
    this.xmit = new DevXmit(this.devs, this.taps);
    this.graph.add(this.xmit);
    this.napi = new Napi(this.graph, this.devs, {
      weight: napi.weight,
      budget: napi.budget,
      busyPoll: napi.busy_poll,
      timeLimitMs: opts.napi?.timeLimitMs,
      xdp: this.xdp,
      taps: this.taps,
    });
  }

  /** Build a stack from a validated config: ports, VLANs, addresses, routes, rules, sysctls. */
  static async fromConfig(cfg: Config, opts: Partial<StackOptions> = {}): Promise<Stack> {
    const memory = cfg.ports.every((p) => p.mode === 'memory');
    const s = new Stack({ name: cfg.name, control: cfg.control, umem: memory ? 'memory' : 'native', napi: cfg.napi, ...opts });
    try {
      for (const [k, v] of Object.entries(cfg.sysctl)) s.configLine(`sysctl.${k}`, () => s.sysctl(k, v));
      for (const p of cfg.ports) await s.addPort(p);
      cfg.routes.forEach((r, i) => s.configLine(`routes[${i}]`, () => s.route(r.startsWith('add ') ? r : `add ${r}`)));
      cfg.netfilter.forEach((r, i) => s.configLine(`netfilter[${i}]`, () => s.iptables(r)));
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  private configLine(path: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      throw new Error(`config: ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---- devices --------------------------------------------------------------------------------

  /** Open a port (one device queue) on the stack's UMEM and add its device, VLANs and addresses. */
  async addPort(o: AddPortOptions): Promise<PortInfo> {
    if (this.stopped) throw new Error(`stack ${this.name}: stopped`);
    const filter = typeof o.xdp === 'string' ? await loadXdpFilter(o.xdp) : o.xdp;
    let port: Port;
    let report: string[];
    if (o.mode === 'memory') {
      const mac = o.mac ? new Uint8Array(parseMac(o.mac)) : memoryMac(this.ports.length);
      port = new MemoryPort(o.dev, this.umem, this.pool, this.graph.capacity, 4096, mac);
      report = ['memory: ok'];
    } else {
      ({ port, report } = openPort({
        name: o.name,
        dev: o.dev,
        queue: o.queue ?? 0,
        mode: o.mode ?? 'auto',
        umem: this.umem,
        pool: this.pool,
        batchSize: this.graph.capacity,
        busyPoll: this.napi.busyPoll,
      }));
    }
    try {
      const dev = this.devs.addPort(o.name, port, o.mtu ?? 1500);
      // A TAP's own MAC is the kernel side's: softnet is the other end of the wire and needs
      // its own address, or the kernel would see its MAC as both source and destination.
      if (o.mac) (dev as { mac: Uint8Array }).mac = parseMac(o.mac);
      else if (port.mode === 'tap') (dev as { mac: Uint8Array }).mac = tapPeerMac(port.mac);
      // Before the VLANs: they inherit the port's flag.
      this.csumPartialSetup(o, dev, port, report);
      for (const a of o.addresses ?? []) this.addAddress(o.name, a);
      const vlans: string[] = [];
      for (const v of o.vlans ?? []) vlans.push(this.addVlan(o.name, v.id, { name: v.name, addresses: v.addresses, mtu: v.mtu }).name);
      if (filter) this.xdp.attach(dev.index, filter);
      this.napi.add(dev);
      this.ports.push(port);
      const info: PortInfo = { name: o.name, dev: port.dev, queue: port.queue, mode: port.mode, mac: fmtMac(dev.mac), report, vlans };
      this.infos.push(info);
      this.l2.neigh.refreshDevs();
      this.link?.resync();
      return info;
    } catch (e) {
      port.close();
      throw e;
    }
  }

  /**
   * csum_partial for a new port: on for veth (auto) or when asked; a start-up warning naming the
   * veth peer and the ethtool command when the peer has (or may have) tx checksumming on.
   */
  private csumPartialSetup(o: AddPortOptions, dev: NetDevice, port: Port, report: string[]): void {
    const mode = o.csum_partial ?? 'auto';
    const info = port.mode === 'memory' ? {} : linkCsumInfo(port.dev);
    const on = mode === 'on' || (mode === 'auto' && info.driver === 'veth');
    this.ipv4.ip.ipRcv.csumPartial.set(dev.index, on);
    const w = info.peer === undefined ? '' : vethPeerWarning(o.name, port.dev, info.peer, on);
    const note = w === '' ? '' : '; peer sends partial checksums, see the warning';
    report.push(`csum_partial: ${on ? 'on' : 'off'} (${mode}${info.driver !== undefined ? `, driver ${info.driver}` : ''}${note})`);
    // Once, through the stack's log (stderr by default): the port line only points at it.
    if (w !== '') this.log(`softnet: warning: ${w}`);
  }

  /** An 802.1Q sub-interface of a port device (default name PORT.ID). */
  addVlan(parent: string, id: number, o: { name?: string; addresses?: string[]; mtu?: number } = {}): NetDevice {
    const d = this.devs.addVlan(parent, id, o.name);
    this.ipv4.ip.ipRcv.csumPartial.inherit(d.index, d.parent);
    if (o.mtu !== undefined) d.mtu = o.mtu;
    for (const a of o.addresses ?? []) this.addAddress(d.name, a);
    this.l2.neigh.refreshDevs();
    return d;
  }

  /** `ip addr add CIDR dev DEV`: the address plus its local and connected routes. */
  addAddress(dev: string, cidr: string): void {
    this.ipv4.addAddress(this.devs.get(dev), cidr);
  }

  /**
   * Add a stage of your own (a protocol handler, a counter...). Before start() it joins the
   * graph like the built-in ones; after start() the graph is re-sealed so stages see it.
   */
  addStage(stage: Stage): number {
    const id = this.graph.add(stage);
    if (this.running) this.graph.seal();
    return id;
  }

  /** dev_add_pack: frames of `ethertype` go to the named stage (built-in or added with addStage). */
  addPtype(ethertype: number, stageName: string): void {
    if (!this.graph.has(stageName)) throw new Error(`stack ${this.name}: no stage named ${stageName}; add it with addStage() first`);
    this.ptype.add(ethertype, stageName);
  }

  removePtype(ethertype: number): boolean {
    return this.ptype.remove(ethertype);
  }

  /** Attach (or replace) the XDP-style filter of a port: a function or a module path. */
  async attachXdp(port: string, filter: XdpFilter | string): Promise<void> {
    const f = typeof filter === 'string' ? await loadXdpFilter(filter) : filter;
    this.xdp.attach(this.devs.get(port).index, f);
  }

  detachXdp(port: string): void {
    this.xdp.detach(this.devs.get(port).index);
  }

  /** The port object of a port device (tests: MemoryPort inject/takeTx). */
  port(name: string): Port {
    return this.devs.get(name).port;
  }

  portInfo(): PortInfo[] {
    return this.infos.map((i) => ({ ...i, report: [...i.report], vlans: [...i.vlans] }));
  }

  // ---- control plane --------------------------------------------------------------------------

  /** iproute2 `ip route` words after `route`: `add|del|replace|show ...`. Returns the output of show. */
  route(cmd: string): string {
    return this.ipv4.route(cmd);
  }

  /** One iptables command line (`-A FORWARD -p udp --dport 53 -j DROP`, `-L -v -n`...). */
  iptables(line: string): string {
    return this.ipv4.iptables(line);
  }

  /** Set a sysctl by its Linux name (`ip_forward`, `net.ipv4.icmp_ratelimit`...); returns the value. */
  sysctl(name: string, value?: number | string): number | string {
    return this.ipv4.sysctl(name, value);
  }

  /** `ip neigh` text. */
  neigh(): string {
    return this.l2.neigh.format();
  }

  /** Add a control-socket command (embedders, tests). */
  handle(cmd: string, h: ControlHandler): void {
    this.extraHandlers[cmd] = h;
  }

  // ---- run ------------------------------------------------------------------------------------

  get isRunning(): boolean {
    return this.running;
  }

  /** Seal the graph, start polling, the aging timer and (if configured) the control socket. */
  async start(): Promise<void> {
    if (this.running) return;
    if (this.stopped) throw new Error(`stack ${this.name}: stopped; make a new one`);
    this.graph.seal();
    if (this.controlPath !== null) {
      const c = new ControlServer(this.controlPath, controlHandlers(this, this.extraHandlers));
      await c.listen();
      this.control = c;
    }
    if (this.cpu >= 0) pinThread(this.cpu);
    this.startLinkWatch();
    this.napi.start();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
    this.startedAt = performance.now();
    this.running = true;
  }

  /** Follow the ports' devices going down, away and back (stack-link.ts). */
  private startLinkWatch(): void {
    if (this.umem.handle < 0) return;
    const w = new LinkWatch({
      devs: this.devs,
      setLinkDown: (i, down) => this.ipv4.fib.setLinkDown(i, down),
      flushNeigh: (i) => this.l2.neigh.flush(i),
      log: this.log,
    });
    try {
      w.start();
      this.link = w;
    } catch (e) {
      w.stop();
      this.log(`stack ${this.name}: no link events, port state will not follow the devices: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Neighbour timers, reassembly timeouts; then anything they queued goes out. */
  private tick(): void {
    try {
      this.l2.neigh.tick();
      this.ipv4.tick();
    } catch (e) {
      // A timer bug must not kill the router; it is logged once per kind.
      this.warnOnce('tick', `stack ${this.name}: aging timer failed: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }

  /**
   * Stop polling, close the control socket and every port (which detaches XDP programs and
   * returns their frames), and free the frames queues hold. Idempotent.
   */
  async stop(): Promise<FrameAccount> {
    this.running = false;
    this.stopped = true;
    for (const c of [...this.captures]) c();
    this.napi.stop();
    this.link?.stop();
    this.link = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.control !== null) await this.control.close().catch(() => undefined);
    this.control = null;
    this.l2.neigh.stopTimer();
    this.l2.neigh.clear();
    this.ipv4.clear();
    for (const p of this.ports) {
      try {
        p.close();
      } catch (e) {
        this.warnOnce('close', `stack ${this.name}: closing ${p.dev}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return this.frames();
  }

  /** Frame accounting: where every UMEM frame is now. */
  frames(): FrameAccount {
    const total = this.pool.total;
    const free = this.pool.available;
    let ports = 0;
    for (const p of this.ports) ports += p.inFlight();
    const neigh = this.l2.neigh.framesHeld();
    const ipv4 = this.ipv4.framesHeld();
    return { total, free, ports, neigh, ipv4, lost: total - free - ports - neigh - ipv4 };
  }

  // ---- observability --------------------------------------------------------------------------

  stats(): StackStats {
    const ports: Record<string, Record<string, number | string>> = {};
    for (const d of this.devs.list) {
      const row: Record<string, number | string> = {};
      row.state = OPER_NAMES[d.operstate] ?? 'UNKNOWN';
      if (d.vlanId === 0) {
        row.dev = d.port.dev;
        row.queue = d.port.queue;
        row.mode = d.port.mode;
        if (this.link !== null) {
          row.carrier_up_count = this.link.upCount[d.index];
          row.carrier_down_count = this.link.downCount[d.index];
        }
        Object.assign(row, d.port.stats());
        const v = this.xdp.stats(d.index);
        if (this.xdp.enabled[d.index] || v.pass + v.drop + v.tx + v.redirect + v.aborted > 0) {
          row.xdp_pass = v.pass;
          row.xdp_drop = v.drop;
          row.xdp_tx = v.tx;
          row.xdp_redirect = v.redirect;
          row.xdp_aborted = v.aborted;
        }
      } else {
        row.parent = this.devs.list[d.parent].name;
        row.vlan = d.vlanId;
      }
      const cp = this.ipv4.ip.ipRcv.csumPartial;
      if (cp.on[d.index] !== 0 || cp.completed[d.index] > 0) row.csum_partial_completed = cp.completed[d.index];
      row.stack_tx_packets = this.xmit.txPackets[d.index];
      row.stack_tx_bytes = this.xmit.txBytes[d.index];
      ports[d.name] = row;
    }
    return {
      name: this.name,
      uptimeSec: this.running ? (performance.now() - this.startedAt) / 1000 : 0,
      softnet: this.napi.stat().map((q) => ({ queue: `${q.dev}/${q.queue}`, processed: q.processed, dropped: q.dropped, time_squeeze: q.time_squeeze })),
      ports,
      drops: this.graph.drops.toJSON(),
      mib: { ...this.ipv4.mib(), Neigh: this.l2.neigh.stats.toJSON(), Softnet: this.counters.toJSON() },
      frames: this.frames(),
    };
  }

  /** VPP `show runtime`: per stage calls, packets, packets/call, ns/packet. */
  runtime(): { uptimeSec: number; rows: RuntimeRow[] } {
    return { uptimeSec: this.running ? (performance.now() - this.startedAt) / 1000 : 0, rows: this.graph.runtime() };
  }

  /**
   * Tap frames (ptype_all) into a bounded queue; `deliver` gets them in batches at most every
   * `flushMs`. Returns a function that stops the capture (flushing what is left).
   */
  capture(o: CaptureOptions, deliver: (frames: CapturedFrame[], dropped: number) => void, flushMs = 50): () => void {
    const dev = o.dev === undefined ? -1 : this.devs.get(o.dev).parent;
    const snaplen = o.snaplen ?? 65535;
    const max = o.maxQueued ?? 4096;
    let q: CapturedFrame[] = [];
    let dropped = 0;
    const tap: Tap = {
      dev,
      rx: o.rx ?? true,
      tx: o.tx ?? false,
      frame: (u8, addr, len, d, tx, sec, usec) => {
        // Capturing is the slow path: a copy per frame is fine, but the queue is bounded.
        if (q.length >= max) {
          dropped++;
          this.counters.v[1]++;
          return;
        }
        q.push({ sec, usec, origLen: len, data: u8.slice(addr, addr + Math.min(len, snaplen)), dev: d, tx });
      },
    };
    const flush = () => {
      if (q.length === 0 && dropped === 0) return;
      const out = q;
      const dr = dropped;
      q = [];
      dropped = 0;
      deliver(out, dr);
    };
    const remove = this.taps.add(tap);
    const timer = setInterval(flush, flushMs);
    let done = false;
    const stop = () => {
      if (done) return;
      done = true;
      remove();
      clearInterval(timer);
      this.captures.delete(stop);
      flush();
    };
    this.captures.add(stop);
    return stop;
  }

  private readonly warned = new Set<string>();
  private warnOnce(kind: string, msg: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    console.error(msg);
  }
}

function fmtMac(m: Uint8Array): string {
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Locally administered MAC for a TAP port's softnet end, derived from the TAP's. */
function tapPeerMac(tap: Uint8Array): Uint8Array {
  const m = new Uint8Array(tap);
  m[0] = (m[0] | 0x02) & 0xfe;
  m[5] ^= 0x01;
  return m;
}

function memoryMac(i: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x01, i & 0xff]);
}

/** Re-exported so embedders need one import. */
export { Batch };

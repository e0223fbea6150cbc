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
import { Batch } from '../core/batch.ts';
import { Counters } from '../core/counters.ts';
import { DevXmit } from '../core/dev-xmit.ts';
import { EthInput } from '../core/eth-input.ts';
import { Graph, type Stage } from '../core/graph.ts';
import { Napi } from '../core/napi.ts';
import { NetDevices, type NetDevice } from '../core/netdev.ts';
import { PtypeTable } from '../core/ptype.ts';
import { Taps } from '../core/taps.ts';
import { TimerWheel } from '../core/timer-wheel.ts';
import { loadXdpFilter, XdpHook, type XdpFilter } from '../core/xdp.ts';
import type { LoadedFilter } from '../bpf/compile.ts';
import { prepareXdp, settleXdp } from './xdp-offload.ts';
import { DEFAULT_NAPI, type Config } from '../config/schema.ts';
import { nativeUmem, pinThread } from '../driver/native.ts';
import { FramePool } from '../driver/pool.ts';
import type { Port } from '../driver/port.ts';
import { memoryUmem, type Umem } from '../driver/umem.ts';
import type { Ipv4 } from '../ipv4/index.ts';
import type { Netfilter } from '../ipv4/netfilter/netfilter.ts';
import { formatMac } from '../wire/addr.ts';
import { registerL2, type L2 } from '../l2/index.ts';
import { registerTransport, type Tcp, type Transport, type Udp } from '../transport/index.ts';
import { ControlServer, type ControlHandler } from './control-socket.ts';
import { startCapture } from './capture.ts';
import { controlHandlers, type ControlHost } from './control.ts';
import { dropSnapshot, type DropSnapshot } from './drops.ts';
import { pipelineSnapshot, type PipelineSnapshot } from './pipeline.ts';
import { Tracer, type TraceOptions, type TraceRecord } from './trace.ts';
import { conntrack, ipAddrAdd, ipRoute, iptables, iptablesRestore, ipv4Sysctl, wireIpv4 } from './ipv4.ts';
import { LinkWatch } from './link.ts';
import { csumPartialSetup, openStackPort, setPortMac } from './port.ts';
import { startService } from './services.ts';
import { stackStats } from './stats.ts';
import {
  SOFTNET,
  SOFTNET_COUNTERS,
  type AddPortOptions,
  type CapturedFrame,
  type CaptureOptions,
  type FrameAccount,
  type PortInfo,
  type RuntimeView,
  type StackOptions,
  type StackStats,
} from './types.ts';

export type { AddPortOptions, CapturedFrame, CaptureOptions, FrameAccount, PortInfo, RuntimeView, StackOptions, StackStats } from './types.ts';

export class Stack implements ControlHost {
  readonly name: string;
  readonly umem: Umem;
  readonly pool: FramePool;
  readonly graph: Graph;
  readonly devs = new NetDevices();
  readonly ptype = new PtypeTable();
  readonly taps = new Taps();
  readonly xdp: XdpHook;
  /** Per device: the compiled filter running in the kernel in front of it (xdp: {offload}). */
  readonly xdpKernel: Array<LoadedFilter | undefined> = [];
  readonly eth: EthInput;
  readonly xmit: DevXmit;
  readonly napi: Napi;
  readonly l2: L2;
  /** The IPv4 layer (inet_init): stages, FIB, MIB, sysctls. */
  readonly ipv4: Ipv4;
  /** iptables' tables (filter, ...), attached to the IPv4 hooks. */
  readonly netfilter: Netfilter;
  /** Sockets: UDP (and TCP), the ip-local-out ring, the socket frame budget, their sysctls. */
  readonly transport: Transport;
  /** The protocol timer wheel (TCP now; conntrack and neighbour timers can join): advanced by napi. */
  readonly timers: TimerWheel;
  /** Stack-level counters that are not drops (types.ts SOFTNET_COUNTERS). */
  readonly counters = new Counters('softnet', SOFTNET_COUNTERS);

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
  private readonly traces = new Set<() => void>();
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
    ({ ipv4: this.ipv4, netfilter: this.netfilter } = wireIpv4(this.graph, this.devs, this.ptype));
    this.timers = opts.timers ?? new TimerWheel();
    this.transport = registerTransport(this.graph, this.ipv4, { timers: this.timers, tcp: opts.tcp });
    for (const [k, v] of Object.entries(opts.sysctl ?? {})) this.sysctl(k, v);
    this.l2 = registerL2(this.graph, this.devs, this.ptype, opts.neigh ?? {});
    this.l2.neigh.attach(this.graph);
    this.xmit = new DevXmit(this.devs, this.taps);
    this.graph.add(this.xmit);
    this.napi = new Napi(this.graph, this.devs, {
      weight: napi.weight,
      budget: napi.budget,
      busyPoll: napi.busy_poll,
      deferHardIrqs: napi.defer_hard_irqs,
      timeLimitMs: opts.napi?.timeLimitMs,
      xdp: this.xdp,
      taps: this.taps,
      timers: this.timers,
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
      cfg.services.forEach((svc, i) => s.configLine(`services[${i}]`, () => startService(s.transport, svc, `services[${i}]`)));
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
    const log = this.log;
    let xdp = await prepareXdp(o, log);
    let opened: ReturnType<typeof openStackPort>;
    try {
      opened = openStackPort(o, {
        umem: this.umem,
        pool: this.pool,
        batchSize: this.graph.capacity,
        busyPoll: this.napi.busyPoll,
        count: this.ports.length,
        program: xdp.kernel?.programFds(),
      });
    } catch (e) {
      xdp.kernel?.close();
      throw e;
    }
    const { port, report } = opened;
    try {
      xdp = await settleXdp(o, xdp, port, log);
      const dev = this.devs.addPort(o.name, port, o.mtu ?? 1500);
      setPortMac(dev, o, port);
      // Before the VLANs: they inherit the port's flag.
      csumPartialSetup(this.ipv4, o, dev, port, report, this.log);
      for (const a of o.addresses ?? []) this.addAddress(o.name, a);
      const vlans: string[] = [];
      for (const v of o.vlans ?? []) vlans.push(this.addVlan(o.name, v.id, { name: v.name, addresses: v.addresses, mtu: v.mtu }).name);
      if (xdp.filter) this.xdp.attach(dev.index, xdp.filter);
      // In the kernel: only what it passes reaches softnet, so the JS hook stays off.
      if (xdp.kernel) this.xdpKernel[dev.index] = xdp.kernel;
      this.napi.add(dev);
      this.ports.push(port);
      const info: PortInfo = { name: o.name, dev: port.dev, queue: port.queue, mode: port.mode, mac: formatMac(dev.mac), report, vlans };
      this.infos.push(info);
      this.l2.neigh.refreshDevs();
      this.link?.resync();
      return info;
    } catch (e) {
      port.close();
      xdp.kernel?.close();
      throw e;
    }
  }

  /** An 802.1Q sub-interface of a port device (default name PORT.ID). */
  addVlan(parent: string, id: number, o: { name?: string; addresses?: string[]; mtu?: number } = {}): NetDevice {
    const d = this.devs.addVlan(parent, id, o.name);
    this.ipv4.ipRcv.csumPartial.inherit(d.index, d.parent);
    if (o.mtu !== undefined) d.mtu = o.mtu;
    for (const a of o.addresses ?? []) this.addAddress(d.name, a);
    this.l2.neigh.refreshDevs();
    return d;
  }

  /** `ip addr add CIDR dev DEV`: the address plus its local, connected and broadcast routes. */
  addAddress(dev: string, cidr: string): void {
    ipAddrAdd(this.ipv4, this.devs.get(dev), cidr);
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
    return ipRoute(this.ipv4, this.devs, cmd);
  }

  /** One iptables command line (`-A FORWARD -p udp --dport 53 -j DROP`, `-L -v -n`...). */
  iptables(line: string): string {
    return iptables(this.ipv4, this.netfilter, line);
  }

  /** `iptables-restore [--noflush] < FILE`: the tables in `text` (iptables-save format) replaced, all or nothing. */
  iptablesRestore(text: string, noflush = false): void {
    iptablesRestore(this.ipv4, this.netfilter, text, noflush);
  }

  /** `conntrack -L|-S|-C|-F|-D [filters]` (conntrack-tools): stdout text and the stderr summary line. */
  conntrack(words: readonly string[]): { output: string; summary: string } {
    return conntrack(this.ipv4, words);
  }

  /**
   * Set a sysctl by its Linux name (`ip_forward`, `net.ipv4.icmp_ratelimit`, `net.core.rmem_max`,
   * `ip_local_port_range`...); returns the value.
   */
  sysctl(name: string, value?: number | string): number | string {
    if (this.transport.hasSysctl(name)) return this.transport.setSysctl(name, value);
    return ipv4Sysctl(this.ipv4, name, value);
  }

  /** UDP: `stack.udp.createSocket()` (node:dgram-like sockets on this stack's addresses). */
  get udp(): Udp {
    return this.transport.udp;
  }

  /** TCP: `stack.tcp.createServer()`, `stack.tcp.connect()` (node:net-like sockets, stream.Duplex). */
  get tcp(): Tcp {
    return this.transport.tcp;
  }

  /** Every socket as `ss` lists it. */
  sockets() {
    return this.transport.sockets();
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

  /** Follow the ports' devices going down, away and back (link.ts). */
  private startLinkWatch(): void {
    if (this.umem.handle < 0) return;
    const w = new LinkWatch({
      devs: this.devs,
      setLinkDown: (i, down, why) => {
        this.ipv4.fib.setLinkDown(i, down);
        // masq_device_event: NETDEV_DOWN (admin down, unregister), not a lost carrier
        if (why === 'admin down' || why === 'device deleted') this.ipv4.nat?.flushMasquerade(i);
      },
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
      this.ipv4.expire();
      this.transport.tick(performance.now());
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
    for (const t of [...this.traces]) t();
    this.napi.stop();
    this.link?.stop();
    this.link = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.control !== null) await this.control.close().catch(() => undefined);
    this.control = null;
    this.l2.neigh.stopTimer();
    this.l2.neigh.clear();
    this.ipv4.close();
    this.transport.close();
    this.timers.stop();
    for (const p of this.ports) {
      try {
        p.close();
      } catch (e) {
        this.warnOnce('close', `stack ${this.name}: closing ${p.dev}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // The ports' links are gone with them; then the programs' and maps' fds.
    for (const k of this.xdpKernel) k?.close();
    this.xdpKernel.length = 0;
    return this.frames();
  }

  /** Frame accounting: where every UMEM frame is now. */
  frames(): FrameAccount {
    const total = this.pool.total;
    const free = this.pool.available;
    let ports = 0;
    for (const p of this.ports) ports += p.inFlight();
    const neigh = this.l2.neigh.framesHeld();
    const ipv4 = this.ipv4.held();
    const sockets = this.transport.held();
    return { total, free, ports, neigh, ipv4, sockets, lost: total - free - ports - neigh - ipv4 - sockets };
  }

  // ---- observability --------------------------------------------------------------------------

  stats(): StackStats {
    return stackStats(this, this.link, this.uptimeSec());
  }

  /** Every counter of a lost packet, with the stage that lost it (`softnet dropwatch`). */
  drops(): DropSnapshot {
    return dropSnapshot(this);
  }

  /**
   * `softnet trace FILTER`: follow matching packets stage by stage (trace.ts). `deliver` gets the
   * finished records at most every `flushMs`, and once more when the trace stops (the returned
   * function, or `count` packets traced). One trace at a time.
   */
  trace(filter: string, o: TraceOptions, deliver: (records: TraceRecord[], missed: number, done: boolean) => void, flushMs = 50): () => void {
    if (this.graph.tracer !== null) throw new Error(`stack ${this.name}: a trace is running already (one at a time)`);
    if (!this.running) this.graph.seal();
    const t = new Tracer(
      {
        graph: this.graph,
        devs: this.devs,
        netfilter: this.netfilter,
        mibs: this.mibCounters(),
        sockets: () => this.sockets(),
      },
      filter,
      o,
    );
    this.graph.tracer = t;
    let missed = 0;
    let ticks = 0;
    let stopped = false;
    const flush = (done: boolean) => {
      const recs = t.take();
      const m = t.missed - missed;
      missed = t.missed;
      if (recs.length > 0 || m > 0 || done) deliver(recs, m, done);
    };
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (this.graph.tracer === t) this.graph.tracer = null;
      this.traces.delete(stop);
      flush(true);
    };
    const timer = setInterval(() => {
      // Rules may change while tracing: look again for the tables worth comparing, every ~second.
      if (++ticks % 20 === 0) t.refreshRules();
      if (t.done) stop();
      else flush(false);
    }, flushMs);
    timer.unref();
    this.traces.add(stop);
    return stop;
  }

  /** Raw counters of the live pipeline picture (`softnet top`, the --http page; pipeline.ts). */
  pipeline(): PipelineSnapshot {
    return pipelineSnapshot({ graph: this.graph, napi: this.napi, devs: this.devs, pool: this.pool, udpMib: this.transport.udp.counters, tcpMib: this.transport.tcp?.ctx.mib.tcp ?? null });
  }

  /** The MIB counter groups netstat -s shows (Ip, Icmp, rt_cache, Udp, Tcp, TcpExt, Neigh). */
  private mibCounters(): Counters[] {
    const m = this.ipv4.mib;
    const tcp = this.transport.tcp?.ctx.mib;
    return [m.ip, m.icmp, m.rt, this.transport.udp.counters, ...(tcp ? [tcp.tcp, tcp.ext] : []), this.l2.neigh.stats];
  }

  /** VPP `show runtime`: per stage calls, packets, packets/call, ns/packet. */
  runtime(): RuntimeView {
    return { uptimeSec: this.uptimeSec(), rows: this.graph.runtime() };
  }

  private uptimeSec(): number {
    return this.running ? (performance.now() - this.startedAt) / 1000 : 0;
  }

  /**
   * Tap frames (ptype_all) into a bounded queue; `deliver` gets them in batches at most every
   * `flushMs`. Returns a function that stops the capture (flushing what is left).
   */
  capture(o: CaptureOptions, deliver: (frames: CapturedFrame[], dropped: number) => void, flushMs = 50): () => void {
    const stop = startCapture(this.taps, this.devs, o, deliver, flushMs, {
      dropped: () => this.counters.v[SOFTNET.capture_dropped]++,
      stopped: (s) => this.captures.delete(s),
    });
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

/** Re-exported so embedders need one import. */
export { Batch };

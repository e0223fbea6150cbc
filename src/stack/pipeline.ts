/**
 * The receive path as a live picture (`softnet top`, the `--http` page): driver -> poll -> ptype
 * -> ip_rcv -> forward | local -> socket -> app, with packets/s on each edge, drops/s and ns/packet
 * per stage, time_squeeze and how full the rings are. A snapshot holds raw counters; rates are
 * the difference of two snapshots. Control plane: allocates.
 */
import type { Graph } from '../core/graph.ts';
import type { Napi } from '../core/napi.ts';
import type { NetDevices } from '../core/netdev.ts';
import type { FramePool } from '../driver/pool.ts';
import type { Counters } from '../core/counters.ts';

export interface PipelineSnapshot {
  /** Monotonic milliseconds. */
  t: number;
  stages: Array<{ name: string; packets: number; drops: number; sampledNs: number; sampledPackets: number }>;
  napi: { processed: number; dropped: number; squeeze: number };
  ports: Array<{ name: string; dev: string; mode: string; rx: number; tx: number; lost: number; fillHeld: number; txOutstanding: number }>;
  pool: { total: number; free: number };
  /** Datagrams the applications read (Udp InDatagrams) and TCP segments in (Tcp InSegs). */
  app: { udpRead: number; tcpIn: number };
}

export interface PipelineSource {
  readonly graph: Graph;
  readonly napi: Napi;
  readonly devs: NetDevices;
  readonly pool: FramePool;
  readonly udpMib: Counters;
  readonly tcpMib: Counters | null;
}

const LOSS = /drop|full|fill_ring_empty|invalid|err/;

export function pipelineSnapshot(s: PipelineSource): PipelineSnapshot {
  const g = s.graph;
  const stages = g.stages.map((st, k) => ({ name: st.name, packets: g.packets[k], drops: g.stageDrops[k], sampledNs: g.sampledNs[k], sampledPackets: g.sampledPackets[k] }));
  let processed = 0;
  let dropped = 0;
  let squeeze = 0;
  for (const q of s.napi.stat()) {
    processed += q.processed;
    dropped += q.dropped;
    squeeze += q.time_squeeze;
  }
  const ports: PipelineSnapshot['ports'] = [];
  for (const d of s.devs.list) {
    if (d.vlanId !== 0) continue;
    const st = d.port.stats();
    let lost = 0;
    for (const [k, v] of Object.entries(st)) if (LOSS.test(k)) lost += v;
    ports.push({
      name: d.name,
      dev: d.port.dev,
      mode: d.port.mode,
      rx: st.rx_packets ?? 0,
      tx: st.tx_packets ?? 0,
      lost,
      fillHeld: st.fill_held ?? st.frames_lent ?? 0,
      txOutstanding: st.tx_outstanding ?? 0,
    });
  }
  const udp = s.udpMib;
  const tcp = s.tcpMib;
  return {
    t: performance.now(),
    stages,
    napi: { processed, dropped, squeeze },
    ports,
    pool: { total: s.pool.total, free: s.pool.available },
    app: { udpRead: udp.get('InDatagrams'), tcpIn: tcp === null ? 0 : tcp.get('InSegs') },
  };
}

export interface PipelineNode {
  /** Stage name, or driver / poll / app. */
  id: string;
  /** What the kernel calls it. */
  label: string;
  pps: number;
  dropsPerSec: number;
  /** Sampled ns/packet over the interval (0: not sampled in it). */
  nsPerPacket: number;
}

export interface PipelineView {
  interval: number;
  nodes: Record<string, PipelineNode>;
  /** Edges of the picture: from, to, packets/s into `to`. */
  edges: Array<{ from: string; to: string; pps: number }>;
  squeezePerSec: number;
  ports: Array<PipelineSnapshot['ports'][number] & { rxPps: number; txPps: number; lostPerSec: number }>;
  pool: { total: number; free: number };
}

/** The picture's edges (the view keeps those whose ends exist in this stack; the live page draws them all). */
export const PIPELINE_EDGES: Array<[string, string]> = [
  ['driver', 'poll'],
  ['poll', 'xdp'],
  ['xdp', 'eth-input'],
  ['poll', 'eth-input'],
  ['eth-input', 'ip-rcv'],
  ['eth-input', 'arp-rcv'],
  ['ip-rcv', 'ip-forward'],
  ['ip-rcv', 'ip-local-deliver'],
  ['ip-local-deliver', 'icmp-rcv'],
  ['ip-local-deliver', 'udp-rcv'],
  ['ip-local-deliver', 'tcp-rcv'],
  ['udp-rcv', 'app'],
  ['tcp-rcv', 'app'],
  ['ip-forward', 'neigh-output'],
  ['ip-output', 'neigh-output'],
  ['neigh-output', 'dev-xmit'],
];

/** Kernel names of the boxes (the stage names are the kernel functions' in dash form). */
export const PIPELINE_LABELS: Record<string, string> = {
  driver: 'driver (NIC rx)',
  poll: 'poll (napi)',
  xdp: 'xdp',
  'eth-input': 'ptype (eth-input)',
  'ip-rcv': 'ip_rcv',
  'ip-forward': 'ip_forward',
  'ip-local-deliver': 'ip_local_deliver',
  'icmp-rcv': 'icmp_rcv',
  'udp-rcv': 'udp_rcv (socket)',
  'tcp-rcv': 'tcp_v4_rcv (socket)',
  app: 'app (read)',
  'arp-rcv': 'arp_rcv',
  'ip-output': 'ip_output',
  'ip-local-out': 'ip_local_out',
  'neigh-output': 'neigh_output',
  'dev-xmit': 'dev_queue_xmit',
};

export function pipelineRates(prev: PipelineSnapshot, cur: PipelineSnapshot): PipelineView {
  const dt = Math.max(1e-3, (cur.t - prev.t) / 1000);
  const nodes: Record<string, PipelineNode> = {};
  const sum = (f: (p: PipelineSnapshot['ports'][number]) => number, s: PipelineSnapshot) => s.ports.reduce((a, p) => a + f(p), 0);
  nodes.driver = { id: 'driver', label: PIPELINE_LABELS.driver, pps: (sum((p) => p.rx, cur) - sum((p) => p.rx, prev)) / dt, dropsPerSec: (sum((p) => p.lost, cur) - sum((p) => p.lost, prev)) / dt, nsPerPacket: 0 };
  nodes.poll = { id: 'poll', label: PIPELINE_LABELS.poll, pps: (cur.napi.processed - prev.napi.processed) / dt, dropsPerSec: (cur.napi.dropped - prev.napi.dropped) / dt, nsPerPacket: 0 };
  cur.stages.forEach((st, k) => {
    const p = prev.stages[k] ?? { packets: 0, drops: 0, sampledNs: 0, sampledPackets: 0 };
    const sp = st.sampledPackets - p.sampledPackets;
    nodes[st.name] = {
      id: st.name,
      label: PIPELINE_LABELS[st.name] ?? st.name,
      pps: (st.packets - p.packets) / dt,
      dropsPerSec: (st.drops - p.drops) / dt,
      nsPerPacket: sp > 0 ? (st.sampledNs - p.sampledNs) / sp : 0,
    };
  });
  nodes.app = { id: 'app', label: PIPELINE_LABELS.app, pps: (cur.app.udpRead - prev.app.udpRead) / dt, dropsPerSec: 0, nsPerPacket: 0 };
  // Into a stage: its packets/s; eth-input is fed by the poll loop directly and by xdp (PASS) on
  // ports with a filter; app: datagrams read, TCP segments in.
  const xdpPass = nodes.xdp === undefined ? 0 : Math.max(0, nodes.xdp.pps - nodes.xdp.dropsPerSec);
  const edgePps = (from: string, to: string): number => {
    if (to === 'app') return from === 'udp-rcv' ? nodes.app.pps : (cur.app.tcpIn - prev.app.tcpIn) / dt;
    if (from === 'xdp' && to === 'eth-input') return xdpPass;
    if (from === 'poll' && to === 'eth-input') return Math.max(0, nodes[to].pps - xdpPass);
    return nodes[to].pps;
  };
  const edges = PIPELINE_EDGES.filter(([a, b]) => nodes[a] !== undefined && nodes[b] !== undefined).map(([from, to]) => ({ from, to, pps: edgePps(from, to) }));
  const ports = cur.ports.map((p) => {
    const q = prev.ports.find((x) => x.name === p.name) ?? p;
    return { ...p, rxPps: (p.rx - q.rx) / dt, txPps: (p.tx - q.tx) / dt, lostPerSec: (p.lost - q.lost) / dt };
  });
  return { interval: dt, nodes, edges, squeezePerSec: (cur.napi.squeeze - prev.napi.squeeze) / dt, ports, pool: cur.pool };
}

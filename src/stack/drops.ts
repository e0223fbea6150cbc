/**
 * Every counter of a stack that counts a lost packet, with the stage that lost it: what
 * `softnet dropwatch` turns into rates (the kernel's dropwatch / `perf trace -e skb:kfree_skb`,
 * `netstat -s` error counters, `ethtool -S` ring counters, `iptables -L -v` on DROP rules).
 * Control plane: a snapshot allocates.
 *
 * - the graph's drop reasons (`ip.InHdrErrors`, `udp.RcvbufErrors`, `neigh.resolution_failed`,
 *   `xdp.drop`...), each with the stages that registered it;
 * - netfilter per rule: every DROP/REJECT rule and every DROP policy with its packet counter,
 *   in iptables -S form (the graph's `netfilter.drop` is their sum, so it is left out);
 * - the driver per port: AF_XDP/TAP ring counters that lose frames (`rx_dropped`,
 *   `rx_ring_full`, `rx_fill_ring_empty_descs`, invalid descriptors, tx errors);
 * - softnet_stat per queue: `dropped` (frames of a device that is down).
 */
import type { Graph } from '../core/graph.ts';
import type { Napi } from '../core/napi.ts';
import type { NetDevices } from '../core/netdev.ts';
import type { Netfilter } from '../ipv4/netfilter/netfilter.ts';

export interface DropRow {
  /** Stage (kernel name) that drops: `ip-rcv`, `udp-rcv`, `driver`, `napi`; several joined by `,`. */
  stage: string;
  /** Counter name: `udp.RcvbufErrors`, `netfilter.drop`, `xsk.rx_ring_full`... */
  counter: string;
  /** What the counter is about: the rule, the port. Empty when the counter says it all. */
  detail: string;
  value: number;
}

export interface DropSnapshot {
  /** Milliseconds on the stack's monotonic clock (rates divide by its differences). */
  t: number;
  rows: DropRow[];
}

/** The parts of a stack the snapshot reads (Stack has them). */
export interface DropSource {
  readonly graph: Graph;
  readonly napi: Napi;
  readonly devs: NetDevices;
  readonly netfilter: Netfilter;
}

/** Chains by the stage that runs their hook (nf-hooks' callers). */
const CHAIN_STAGE: Record<string, string> = {
  PREROUTING: 'ip-rcv',
  INPUT: 'ip-local-deliver',
  FORWARD: 'ip-forward',
  OUTPUT: 'ip-local-out',
  POSTROUTING: 'ip-forward,ip-output',
};

/** Driver counters that count lost frames (ethtool -S names as the addon reports them; tx_ring_empty_descs is not one). */
const DRIVER_LOSS = /drop|full|fill_ring_empty|invalid|err/;

export function dropSnapshot(s: DropSource): DropSnapshot {
  const rows: DropRow[] = [];
  const g = s.graph;
  const names = g.drops.names;
  for (let id = 0; id < names.length; id++) {
    if (names[id] === 'netfilter.drop') continue;
    rows.push({ stage: (g.reasonStages[id] ?? []).join(',') || '-', counter: names[id], detail: '', value: g.drops.v[id] });
  }
  rows.push(...netfilterDrops(s.netfilter));
  for (const d of s.devs.list) {
    if (d.vlanId !== 0) continue;
    const st = d.port.stats();
    const kind = d.port.mode === 'tap' ? 'tap' : d.port.mode === 'memory' ? 'mem' : 'xsk';
    for (const [k, v] of Object.entries(st)) {
      if (DRIVER_LOSS.test(k)) rows.push({ stage: 'driver', counter: `${kind}.${k}`, detail: `${d.name} (${d.port.dev})`, value: v });
    }
  }
  for (const q of s.napi.stat()) rows.push({ stage: 'napi', counter: 'softnet.dropped', detail: `${q.dev}/${q.queue}`, value: q.dropped });
  return { t: performance.now(), rows };
}

/**
 * DROP/REJECT rules and DROP policies of the tables that drop (raw, mangle, filter), from
 * `iptables -S -v` text (rule text and counters as iptables-save prints them).
 */
function netfilterDrops(nf: Netfilter): DropRow[] {
  const rows: DropRow[] = [];
  for (const table of ['raw', 'mangle', 'filter']) {
    let text: string;
    try {
      text = nf.exec(`-t ${table} -S -v`);
    } catch {
      continue; // a table this build does not have
    }
    for (const line of text.split('\n')) {
      const pol = /^-P (\S+) DROP/.exec(line);
      if (pol) {
        rows.push({ stage: CHAIN_STAGE[pol[1]] ?? '-', counter: 'netfilter.drop', detail: `${tablePrefix(table)}-P ${pol[1]} DROP`, value: nf.counters(table, pol[1]).pkts });
        continue;
      }
      const m = /^(-A (\S+) .*-j (DROP|REJECT)\b.*?) -c (\d+) \d+$/.exec(line);
      if (m) {
        rows.push({ stage: CHAIN_STAGE[m[2]] ?? '-', counter: m[3] === 'DROP' ? 'netfilter.drop' : 'netfilter.reject', detail: tablePrefix(table) + m[1], value: Number(m[4]) });
      }
    }
  }
  return rows;
}

function tablePrefix(table: string): string {
  return table === 'filter' ? '' : `-t ${table} `;
}

/** One row of `softnet dropwatch`: a counter's growth over an interval. */
export interface DropRate extends DropRow {
  /** Packets lost in the interval. */
  delta: number;
  /** delta per second. */
  rate: number;
}

/**
 * The counters that grew from `prev` to `cur`, as rates, the fastest first (ties: the larger
 * total first, then by name, so the order is stable).
 */
export function dropRates(prev: DropSnapshot, cur: DropSnapshot): DropRate[] {
  const key = (r: DropRow) => `${r.stage}\0${r.counter}\0${r.detail}`;
  const before = new Map(prev.rows.map((r) => [key(r), r.value]));
  const dt = Math.max(1e-3, (cur.t - prev.t) / 1000);
  const out: DropRate[] = [];
  for (const r of cur.rows) {
    const delta = r.value - (before.get(key(r)) ?? 0);
    if (delta > 0) out.push({ ...r, delta, rate: delta / dt });
  }
  return out.sort((a, b) => b.rate - a.rate || b.value - a.value || a.counter.localeCompare(b.counter));
}

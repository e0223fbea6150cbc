import { formatIPv4, macPairToString } from '../wire/addr.ts';
import {
  NUD_DELAY,
  NUD_FAILED,
  NUD_INCOMPLETE,
  NUD_NOARP,
  NUD_NONE,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  NUD_VALID,
  type NeighEntries,
} from './neigh-table.ts';

/** One row of `ip neigh show`. */
export interface NeighEntry {
  ip: string;
  dev: string;
  lladdr: string | null;
  state: string;
  /** Packets waiting on resolution. */
  queued: number;
  probes: number;
}

/** NUD state names as iproute2 prints them. */
export const NUD_NAMES: Readonly<Record<number, string>> = {
  [NUD_INCOMPLETE]: 'INCOMPLETE',
  [NUD_REACHABLE]: 'REACHABLE',
  [NUD_STALE]: 'STALE',
  [NUD_DELAY]: 'DELAY',
  [NUD_PROBE]: 'PROBE',
  [NUD_FAILED]: 'FAILED',
  [NUD_NOARP]: 'NOARP',
  [NUD_PERMANENT]: 'PERMANENT',
};

/** `ip neigh show` (neigh_dump_table): every entry in use, in entry id order. */
export function neighDump(t: NeighEntries): NeighEntry[] {
  const rows: NeighEntry[] = [];
  for (let e = 0; e < t.capacity; e++) {
    const st = t.state[e];
    if (st === NUD_NONE) continue;
    rows.push({
      ip: formatIPv4(t.ip[e]),
      dev: t.devs.list[t.dev[e]]?.name ?? `#${t.dev[e]}`,
      lladdr: (st & NUD_VALID) !== 0 ? macPairToString(t.hi[e], t.lo[e]) : null,
      state: NUD_NAMES[st] ?? String(st),
      queued: t.pending.count[e],
      probes: t.probes[e],
    });
  }
  return rows;
}

/** `ip neigh` text: "10.0.0.2 dev p0 lladdr 02:00:00:00:00:01 REACHABLE", one line per row. */
export function formatNeigh(rows: readonly NeighEntry[]): string {
  return rows.map((r) => `${r.ip} dev ${r.dev}${r.lladdr !== null ? ` lladdr ${r.lladdr}` : ''} ${r.state}`).join('\n');
}

/** One receive queue's row of /proc/net/softnet_stat (per queue here, per CPU in the kernel). */
export interface SoftnetStat {
  /** Device (port) name and queue id. */
  dev: string;
  queue: number;
  /** Frames taken from the port by the poll loop. */
  processed: number;
  /** Frames the poll loop could not hand to the stack (device down, batch refused). */
  dropped: number;
  /** Rounds that ended with this queue still having work: budget or time limit ran out. */
  time_squeeze: number;
}

/**
 * The procfs text: one line per queue, 13 columns of %08x as in Linux 6.x (processed, dropped,
 * time_squeeze, five zeros, cpu_collision, received_rps, flow_limit_count, backlog_len, index).
 */
export function formatSoftnetStat(rows: readonly SoftnetStat[]): string {
  const h = (x: number) => (Math.floor(x) >>> 0).toString(16).padStart(8, '0');
  return rows
    .map((r, i) => [r.processed, r.dropped, r.time_squeeze, 0, 0, 0, 0, 0, 0, 0, 0, 0, i].map(h).join(' ') + '\n')
    .join('');
}

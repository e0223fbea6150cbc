/**
 * UDP connection tracking (nf_conntrack_proto_udp.c): udp_error's length check, and udp_packet's
 * timeouts: nf_conntrack_udp_timeout (30 s) until a reply was seen; once both directions have
 * been seen and the entry is older than 2 s, nf_conntrack_udp_timeout_stream (120 s) and ASSURED
 * (Linux 5.x+: a quick request/answer such as DNS stays short-lived).
 */

import { IPS_ASSURED, IPS_SEEN_REPLY } from './common.ts';
import type { CtTable } from './table.ts';

/** How long a replied flow stays on the short timeout (ct->proto.udp.stream_ts). */
const UDP_STREAM_AFTER_MS = 2000;

/** udp_error: a header within the datagram whose length field fits it. */
export function udpError(dv: DataView, uh: number, len: number): boolean {
  if (len < 8) return true;
  const ulen = dv.getUint16(uh + 4);
  return ulen < 8 || ulen > len;
}

/** udp_packet: the timeout (seconds) to refresh entry e to; sets ASSURED on a stream. `clock[0]` is now (ms). */
export function udpPacket(t: CtTable, e: number, clock: Float64Array, timeout: number, stream: number): number {
  const st = t.status[e];
  if ((st & IPS_SEEN_REPLY) === 0 || clock[0] - t.start[e] <= UDP_STREAM_AFTER_MS) return timeout;
  if ((st & IPS_ASSURED) === 0) t.status[e] = st | IPS_ASSURED;
  return stream;
}

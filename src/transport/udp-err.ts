import type { IcmpErrHandler } from '../ipv4/icmp-rcv.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import { icmpErrName, isHardIcmpErr } from './icmp-err.ts';
import type { UdpState } from './udp-state.ts';
// Imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ipDaddr, ipIhl, ipSaddr } = ipv4;
const { udpDport, udpSport } = udp;

/**
 * __udp4_lib_err: an ICMP error quoting a datagram we sent finds its socket by the quoted
 * addresses read backwards (their destination is our peer). Without IP_RECVERR (softnet has none)
 * the kernel reports only hard errors (port unreachable: ECONNREFUSED...) and only to a connected
 * socket; the socket then emits 'error' (or fails its for-await) on a microtask, like node:dgram's
 * failed recvmsg. No socket: false (Icmp InErrors).
 */
export function udpErrHandler(st: UdpState): IcmpErrHandler {
  return (q, _qlen, type, code, _info, dif) => {
    const dv = st.dv;
    const u = q + ipIhl(st.u8, q);
    const t = st.table;
    const s = t.lookup(ipDaddr(dv, q), udpDport(dv, u), ipSaddr(dv, q), udpSport(dv, u), dif);
    if (s < 0) return false;
    const name = icmpErrName(type, code);
    if (name === '' || !isHardIcmpErr(type, code) || t.rport[s] === 0) return true;
    const sk = st.socks[s]!;
    sk.soErr = name;
    st.markReady(sk);
    st.scheduleNotify();
    return true;
  };
}

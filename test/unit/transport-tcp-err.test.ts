// ICMP errors quoting a segment softnet sent (tcp_v4_err), crafted, through a memory stack with
// a manual clock: a connect aborted by port/host unreachable, a quote out of the window ignored
// (OutOfWindowIcmps), an established connection that keeps the error for its timeout.
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, ICMP_PORT_UNREACH } from '../../src/wire/icmp.ts';
import { IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { ME, PEER_IP, PEER_MAC } from '../support/memory-stack.ts';
import { SYN, tcpLab, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

/** ICMP type/code from the peer quoting a segment of ours sport -> 10.1.0.2:dport with sequence number seq. */
function icmpErr(l: TcpLab, type: number, code: number, q: { sport: number; dport: number; seq: number }): Uint8Array {
  const quoted = buildFrame({ ip: { src: ME, dst: PEER_IP }, tcp: { sport: q.sport, dport: q.dport, seq: q.seq, flags: SYN } });
  return buildFrame({ dstMac: l.p0.mac, srcMac: PEER_MAC, ip: { src: PEER_IP, dst: ME }, icmp: { type, code }, payload: quoted.subarray(ETH_HLEN, ETH_HLEN + IPV4_HLEN + 8) });
}

const icmpMib = (l: TcpLab) => l.s.stats().mib.Icmp;

describe('ICMP errors reach TCP connections (tcp_v4_err)', () => {
  it('port unreachable for our SYN fails connect with ECONNREFUSED at once; a quote outside snd_una..snd_nxt is ignored (OutOfWindowIcmps)', async () => {
    lab = await tcpLab();
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000 });
    const err = new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    const [syn] = await lab.tx();
    await lab.rx(icmpErr(lab, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, { sport: syn.sport, dport: 5000, seq: syn.seq + 1000 }));
    expect(lab.ext('OutOfWindowIcmps')).toBe(1);
    expect(lab.s.tcp.sockets().map((r) => r.state)).toEqual(['SYN-SENT']);
    await lab.rx(icmpErr(lab, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, { sport: syn.sport, dport: 5000, seq: syn.seq }));
    const e = await err;
    expect([e.code, e.syscall, e.message]).toEqual(['ECONNREFUSED', 'connect', 'connect ECONNREFUSED 10.1.0.2:5000']);
    expect(lab.mib('AttemptFails')).toBe(1);
    expect(lab.s.tcp.sockets()).toEqual([]);
    // Gone: no SYN is retransmitted.
    await lab.advance(3000);
    expect(await lab.tx()).toEqual([]);
    expect(icmpMib(lab).InErrors).toBe(0);
  });

  it('host unreachable aborts a connect too (EHOSTUNREACH); a quote for no connection counts Icmp InErrors', async () => {
    lab = await tcpLab();
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5001 });
    const err = new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    const [syn] = await lab.tx();
    await lab.rx(icmpErr(lab, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, { sport: syn.sport, dport: 5001, seq: syn.seq }));
    expect((await err).code).toBe('EHOSTUNREACH');
    await lab.rx(icmpErr(lab, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, { sport: syn.sport, dport: 5001, seq: syn.seq }));
    expect(icmpMib(lab).InErrors).toBe(1);
  });

  it('an established connection keeps the error (sk_err_soft): nothing happens now; when it times out the application hears EHOSTUNREACH, not ETIMEDOUT', async () => {
    lab = await tcpLab({ sysctl: { tcp_retries2: 1 } });
    const got: TcpSocket[] = [];
    lab.s.tcp.createServer((s) => got.push(s)).listen(80);
    await lab.settle();
    await lab.rx(lab.seg({ seq: 1000, flags: SYN, mss: 1460 }));
    const [sa] = await lab.tx();
    await lab.rx(lab.seg({ seq: 1001, ack: sa.seq + 1 }));
    const s = got[0];
    const errs: NodeJS.ErrnoException[] = [];
    s.on('error', (e) => errs.push(e));
    s.write('lost');
    expect((await lab.tx()).length).toBe(1);
    await lab.rx(icmpErr(lab, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, { sport: 80, dport: 40000, seq: sa.seq + 1 }));
    expect(errs).toEqual([]);
    expect(lab.s.tcp.sockets().map((r) => r.state)).toEqual(['LISTEN', 'ESTAB']);
    // RTO, one retransmission (tcp_retries2 1), then the timeout.
    for (let k = 0; k < 20 && errs.length === 0; k++) await lab.advance(1000);
    expect(errs.map((e) => e.code)).toEqual(['EHOSTUNREACH']);
    expect(lab.ext('TCPAbortOnTimeout')).toBe(1);
  });
});

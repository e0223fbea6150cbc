// ICMP errors quoting a datagram a softnet UDP socket sent (icmp_unreach -> __udp4_lib_err):
// crafted errors through a stack on memory ports. As Linux without IP_RECVERR: hard errors
// (port unreachable: ECONNREFUSED, filtered: EHOSTUNREACH) reach connected sockets only, as an
// 'error' like node:dgram's failed recvmsg, or as the exception of a waiting for-await loop.
import { afterEach, describe, expect, it } from 'vitest';
import type { UdpSocket } from '../../src/transport/index.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, ICMP_PARAMETERPROB, ICMP_PKT_FILTERED, ICMP_PORT_UNREACH, ICMP_SOURCE_QUENCH, ICMP_TIME_EXCEEDED } from '../../src/wire/icmp.ts';
import { IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { UDP_HLEN } from '../../src/wire/udp.ts';
import { ME, PEER_IP, PEER_MAC } from '../support/memory-stack.ts';
import { udpLab, type UdpLab } from '../support/transport-udp.ts';

let L: UdpLab | null = null;
afterEach(async () => {
  await L?.stop();
  L = null;
});

/** An ICMP error from the peer quoting `sent` (a frame we transmitted): its IP header + `quote` bytes after it. */
function icmpErr(l: UdpLab, sent: Uint8Array, type: number, code: number, quote = UDP_HLEN): Uint8Array {
  return buildFrame({ dstMac: l.p0.mac, srcMac: PEER_MAC, ip: { src: PEER_IP, dst: ME }, icmp: { type, code }, payload: sent.subarray(ETH_HLEN, ETH_HLEN + IPV4_HLEN + quote) });
}

/** Send one datagram from s and return the frame it left in. */
async function sent(l: UdpLab, s: UdpSocket, port?: number): Promise<Uint8Array> {
  if (port === undefined) s.send('q');
  else s.send('q', port, PEER_IP);
  const out = await l.tx();
  expect(out.length).toBe(1);
  return out[0];
}

/** The errors s emitted, collected. */
function errors(s: UdpSocket): Array<NodeJS.ErrnoException> {
  const got: Array<NodeJS.ErrnoException> = [];
  s.on('error', (e) => got.push(e));
  return got;
}

describe('ICMP errors reach UDP sockets (__udp4_lib_err)', () => {
  it("port unreachable for a connected socket: 'error' ECONNREFUSED from recvmsg, as node:dgram on Linux", async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().connect(53, PEER_IP);
    const got = errors(s);
    const f = await sent(L, s);
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
    expect(got.map((e) => [e.code, e.errno, e.syscall, e.message])).toEqual([['ECONNREFUSED', -111, 'recvmsg', 'recvmsg ECONNREFUSED']]);
    // Reported once (sock_error clears it); the socket still works.
    const f2 = await sent(L, s);
    expect(f2.length).toBe(f.length);
    expect(got.length).toBe(1);
    expect(L.s.stats().mib.Icmp).toMatchObject({ InDestUnreachs: 1, InErrors: 0 });
    s.close();
  });

  it('soft errors (host unreachable, time exceeded) and source quench are not reported; filtered is EHOSTUNREACH, parameter problem EPROTO', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().connect(53, PEER_IP);
    const got = errors(s);
    const f = await sent(L, s);
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH), icmpErr(L, f, ICMP_TIME_EXCEEDED, 0), icmpErr(L, f, ICMP_SOURCE_QUENCH, 0));
    expect(got).toEqual([]);
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED));
    await L.rx(icmpErr(L, f, ICMP_PARAMETERPROB, 0));
    expect(got.map((e) => e.code)).toEqual(['EHOSTUNREACH', 'EPROTO']);
    expect(L.s.stats().mib.Icmp.InErrors).toBe(0);
    s.close();
  });

  it('an unconnected socket hears nothing; a quote no socket sent, or one cut short, counts Icmp InErrors', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(5353);
    const got = errors(s);
    const f = await sent(L, s, 53);
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
    expect(got).toEqual([]);
    expect(L.s.stats().mib.Icmp.InErrors).toBe(0);
    s.close();
    // Its socket is gone now: nobody to tell.
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
    expect(L.s.stats().mib.Icmp.InErrors).toBe(1);
    // A quote with 4 bytes of UDP header, and one with half an IP header: malformed, counted.
    const c = L.s.udp.createSocket().connect(53, PEER_IP);
    const cgot = errors(c);
    const g = await sent(L, c);
    await L.rx(icmpErr(L, g, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 4), icmpErr(L, g, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, -10));
    expect(cgot).toEqual([]);
    expect(L.s.stats().mib.Icmp.InErrors).toBe(3);
    expect(L.s.stats().frames.free).toBe(L.s.stats().frames.total);
    c.close();
  });

  it('a for-await loop waiting on the socket throws the error', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().connect(53, PEER_IP);
    const loop = (async () => {
      for await (const d of s) void d;
    })().then(
      () => null,
      (e: unknown) => e,
    );
    const f = await sent(L, s);
    await L.rx(icmpErr(L, f, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH));
    expect(await loop).toMatchObject({ code: 'ECONNREFUSED', syscall: 'recvmsg' });
    s.close();
  });
});

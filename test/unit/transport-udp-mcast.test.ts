// Multicast receive (IP_ADD_MEMBERSHIP, ip_check_mc_rcu, __udp4_lib_mcast_deliver) with crafted
// frames through a stack on memory ports: a joined group is delivered to every socket on the
// port (wildcard or bound to the group), other groups are dropped as before; errors as Linux's.
import { afterEach, describe, expect, it } from 'vitest';
import { udpLab, type UdpLab } from '../support/transport-udp.ts';

let L: UdpLab | null = null;
afterEach(async () => {
  await L?.stop();
  L = null;
});

const GROUP_MAC = '01:00:5e:01:01:01'; // ip_eth_mc_map(239.1.1.1)

describe('UDP multicast receive', () => {
  it('a joined group reaches every socket on the port (wildcard, bound to the group), not one bound to a unicast address; leaving or closing stops it', async () => {
    L = await udpLab();
    const any = L.s.udp.createSocket({ reuseAddr: true }).bind(5000);
    const grp = L.s.udp.createSocket({ reuseAddr: true }).bind(5000, '239.1.1.1');
    const uni = L.s.udp.createSocket({ reuseAddr: true }).bind(5000, '10.1.0.1');
    const got: string[][] = [[], [], []];
    [any, grp, uni].forEach((s, k) => s.on('message', (m) => got[k].push(String(m))));
    const mc = (payload: string, dst = '239.1.1.1') => L!.udp({ dport: 5000, dst, dstMac: GROUP_MAC, payload });
    const ip = () => L!.s.stats().mib.Ip;
    // Not joined yet: dropped as a destination that is not ours.
    await L.rx(mc('early'));
    expect(got).toEqual([[], [], []]);
    expect(ip()).toMatchObject({ InMcastPkts: 1, InAddrErrors: 1 });
    any.addMembership('239.1.1.1', '10.1.0.1');
    await L.rx(mc('one'), mc('other group', '239.1.1.2'));
    expect(got).toEqual([['one'], ['one'], []]);
    expect(ip()).toMatchObject({ InMcastPkts: 3, InAddrErrors: 2 });
    expect(L.s.stats().mib.Udp.InDatagrams).toBe(2);
    // A second socket's membership of the same group: the group stays until both leave.
    grp.addMembership('239.1.1.1', '10.1.0.1');
    any.dropMembership('239.1.1.1', '10.1.0.1');
    await L.rx(mc('two'));
    expect(got[0]).toEqual(['one', 'two']);
    grp.close();
    await L.rx(mc('three'));
    expect(got[0]).toEqual(['one', 'two']);
    expect(L.s.ipv4.ctx.mc.list()).toEqual([]);
    any.close();
    uni.close();
    expect(L.s.frames().sockets).toBe(0);
  });

  it('membership errors: EINVAL (not multicast), ENODEV (no such interface, no route), EADDRINUSE (twice), EADDRNOTAVAIL (not joined)', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket();
    expect(() => s.addMembership('10.1.0.9', '10.1.0.1')).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'addMembership' }));
    expect(() => s.addMembership('239.1.1.1', '10.9.9.9')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => s.addMembership('239.1.1.1')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    s.addMembership('239.1.1.1', '10.1.0.1');
    expect(() => s.addMembership('239.1.1.1', '10.1.0.1')).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    expect(() => s.dropMembership('239.1.1.2', '10.1.0.1')).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL', syscall: 'dropMembership' }));
    // Bound to a group address: allowed (inet_bind's RTN_MULTICAST).
    s.bind(5001, '239.1.1.1');
    expect(s.address().address).toBe('239.1.1.1');
    s.close();
    expect(L.s.ipv4.ctx.mc.list()).toEqual([]);
  });
});

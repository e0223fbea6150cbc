// UDP socket lookup and binding: the kernel's rules (compute_score, udp_lib_lport_inuse,
// udp_lib_get_port), on the table alone and through a stack with crafted frames.
import { afterEach, describe, expect, it } from 'vitest';
import { UdpTable, UDP_REUSEADDR, UDP_REUSEPORT } from '../../src/transport/udp-table.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { udpLab, type UdpLab } from '../support/transport-udp.ts';

const ip = parseIPv4;
const A = ip('10.1.0.1');
const PEER = ip('10.1.0.2');
const OTHER = ip('10.1.0.3');

function sock(t: UdpTable, port: number, o: { laddr?: number; raddr?: number; rport?: number; dev?: number; flags?: number } = {}): number {
  const id = t.alloc();
  t.lport[id] = port;
  t.laddr[id] = o.laddr ?? 0;
  t.raddr[id] = o.raddr ?? 0;
  t.rport[id] = o.rport ?? 0;
  t.dev[id] = o.dev ?? -1;
  t.flags[id] |= o.flags ?? 0;
  t.hash(id);
  return id;
}

describe('UdpTable lookup (compute_score)', () => {
  it('a socket bound to the destination address beats a wildcard one, whatever the order', () => {
    for (const order of [0, 1]) {
      const t = new UdpTable();
      const w = order ? sock(t, 53) : -1;
      const s = sock(t, 53, { laddr: A });
      const w2 = order ? w : sock(t, 53);
      expect(t.lookup(PEER, 1000, A, 53, 0)).toBe(s);
      // To another of our addresses only the wildcard socket matches.
      expect(t.lookup(PEER, 1000, ip('10.2.0.1'), 53, 0)).toBe(w2);
    }
  });

  it('a connected socket beats an unconnected one; a different peer never matches it', () => {
    const t = new UdpTable();
    const bound = sock(t, 5000, { laddr: A });
    const conn = sock(t, 5000, { laddr: A, raddr: PEER, rport: 7000, flags: UDP_REUSEADDR });
    expect(t.lookup(PEER, 7000, A, 5000, 0)).toBe(conn);
    expect(t.lookup(PEER, 7001, A, 5000, 0)).toBe(bound);
    expect(t.lookup(OTHER, 7000, A, 5000, 0)).toBe(bound);
    t.release(bound);
    expect(t.lookup(OTHER, 7000, A, 5000, 0)).toBe(-1);
    expect(t.lookup(PEER, 7000, A, 5000, 0)).toBe(conn);
  });

  it('a device-bound socket takes its device only, and beats an unbound one there', () => {
    const t = new UdpTable();
    const any = sock(t, 67);
    const d1 = sock(t, 67, { dev: 1 });
    expect(t.lookup(PEER, 68, A, 67, 1)).toBe(d1);
    expect(t.lookup(PEER, 68, A, 67, 0)).toBe(any);
  });

  it('nothing on the port, or only sockets for other addresses: -1', () => {
    const t = new UdpTable();
    sock(t, 53, { laddr: ip('10.2.0.1') });
    expect(t.lookup(PEER, 1, A, 53, 0)).toBe(-1);
    expect(t.lookup(PEER, 1, A, 54, 0)).toBe(-1);
  });

  it('SO_REUSEPORT: flows spread over the group by hash, one flow always to the same member', () => {
    const t = new UdpTable();
    const g = [0, 1, 2, 3].map(() => sock(t, 9000, { flags: UDP_REUSEPORT }));
    const hits = new Map<number, number>();
    for (let p = 1; p <= 4000; p++) {
      const s = t.lookup(PEER, p, A, 9000, 0);
      expect(g).toContain(s);
      expect(t.lookup(PEER, p, A, 9000, 0)).toBe(s);
      hits.set(s, (hits.get(s) ?? 0) + 1);
    }
    // Each of the 4 members takes a fair share (1000 expected).
    for (const id of g) expect(hits.get(id)).toBeGreaterThan(700);
    // A connected member is no longer in the group's draw; its own peer goes to it alone.
    t.raddr[g[0]] = PEER;
    t.rport[g[0]] = 1;
    expect(t.lookup(PEER, 1, A, 9000, 0)).toBe(g[0]);
    for (let p = 2; p < 200; p++) expect(t.lookup(PEER, p, A, 9000, 0)).not.toBe(g[0]);
  });
});

describe('UdpTable binding (udp_lib_lport_inuse, udp_lib_get_port)', () => {
  it('overlapping addresses conflict unless both share by SO_REUSEADDR or SO_REUSEPORT', () => {
    const t = new UdpTable();
    sock(t, 53, { laddr: A });
    const me = t.alloc();
    expect(t.inUse(me, 53, A, 0, -1)).toBe(true);
    expect(t.inUse(me, 53, 0, 0, -1)).toBe(true); // wildcard overlaps every address
    expect(t.inUse(me, 53, ip('10.2.0.1'), 0, -1)).toBe(false);
    expect(t.inUse(me, 54, A, 0, -1)).toBe(false);
    const t2 = new UdpTable();
    sock(t2, 53, { flags: UDP_REUSEADDR });
    const x = t2.alloc();
    expect(t2.inUse(x, 53, A, UDP_REUSEADDR, -1)).toBe(false);
    expect(t2.inUse(x, 53, A, UDP_REUSEPORT, -1)).toBe(true);
    sock(t2, 60, { flags: UDP_REUSEPORT });
    expect(t2.inUse(x, 60, 0, UDP_REUSEPORT, -1)).toBe(false);
    // Different devices do not overlap.
    sock(t2, 70, { dev: 1 });
    expect(t2.inUse(x, 70, 0, 0, 2)).toBe(false);
    expect(t2.inUse(x, 70, 0, 0, 1)).toBe(true);
  });

  it('ephemeral ports: inside the range, empty ports first, -1 when every port conflicts', () => {
    const t = new UdpTable();
    const got = new Set<number>();
    for (let k = 0; k < 10; k++) {
      const id = t.alloc();
      const p = t.ephemeral(id, 40000, 40009, 0, 0, -1, k / 10);
      expect(p).toBeGreaterThanOrEqual(40000);
      expect(p).toBeLessThanOrEqual(40009);
      t.lport[id] = p;
      t.hash(id);
      got.add(p);
    }
    expect(got.size).toBe(10);
    expect(t.ephemeral(t.alloc(), 40000, 40009, 0, 0, -1, 0.5)).toBe(-1);
    // A socket for another address may share a port bound to a specific address.
    const t2 = new UdpTable();
    sock(t2, 40000, { laddr: A });
    expect(t2.ephemeral(t2.alloc(), 40000, 40000, ip('10.2.0.1'), 0, -1, 0)).toBe(40000);
  });
});

describe('sockets on a stack', () => {
  let L: UdpLab | null = null;
  afterEach(async () => {
    await L?.stop();
    L = null;
  });

  it('bind errors carry codes: EADDRINUSE, EADDRNOTAVAIL, EINVAL; ephemeral ports come from ip_local_port_range (EAGAIN when used up)', async () => {
    L = await udpLab();
    const u = L.s.udp;
    const a = u.createSocket().bind(5000);
    expect(a.address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port: 5000 });
    expect(() => u.createSocket().bind(5000, '10.1.0.1')).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }));
    expect(() => u.createSocket().bind(5001, '192.0.2.1')).toThrow(expect.objectContaining({ code: 'EADDRNOTAVAIL' }));
    expect(() => u.createSocket().bind(70000)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => a.bind(5002)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const r1 = u.createSocket({ reuseAddr: true }).bind(6000);
    const r2 = u.createSocket({ reuseAddr: true }).bind(6000, '10.1.0.1');
    expect(r2.address().port).toBe(6000);
    r1.close();
    expect(L.s.sysctl('net.ipv4.ip_local_port_range', '41000 41001')).toBe('41000\t41001');
    const e1 = u.createSocket().bind();
    const e2 = u.createSocket().bind(0);
    expect([e1.address().port, e2.address().port].sort()).toEqual([41000, 41001]);
    expect(() => u.createSocket().bind()).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    a.close();
    expect(() => a.bind(1)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    // Closed: the port is free again.
    u.createSocket().bind(5000);
  });

  it('a datagram goes to the socket bound to its address, a connected socket gets only its peer', async () => {
    L = await udpLab();
    const u = L.s.udp;
    const got: string[] = [];
    const wild = u.createSocket({ reuseAddr: true }).bind(7000);
    const spec = u.createSocket({ reuseAddr: true }).bind(7000, '10.1.0.1');
    const conn = u.createSocket({ reuseAddr: true }).bind(7000, '10.1.0.1');
    conn.connect(4444, '10.1.0.2');
    wild.on('message', (m) => got.push(`wild ${m}`));
    spec.on('message', (m) => got.push(`spec ${m}`));
    conn.on('message', (m) => got.push(`conn ${m}`));
    expect(conn.remoteAddress()).toEqual({ address: '10.1.0.2', family: 'IPv4', port: 4444 });
    await L.rx(
      L.udp({ sport: 4444, dport: 7000, payload: 'a' }),
      L.udp({ sport: 4445, dport: 7000, payload: 'b' }),
      L.udp({ sport: 4444, dport: 7000, payload: 'c', src: '10.1.0.3' }),
    );
    expect(got.sort()).toEqual(['conn a', 'spec b', 'spec c']);
    conn.disconnect();
    spec.close();
    got.length = 0;
    await L.rx(L.udp({ sport: 4444, dport: 7000, payload: 'd' }));
    // disconnect keeps the address bind() fixed: conn is an unconnected 10.1.0.1 socket again.
    expect(got).toEqual(['conn d']);
  });

  it('connect() on an unbound socket autobinds an ephemeral port and takes the route source address', async () => {
    L = await udpLab();
    const c = L.s.udp.createSocket();
    c.connect(53, '10.2.0.2');
    const a = c.address();
    expect(a.address).toBe('10.2.0.1');
    const [lo, hi] = L.s.transport.sysctl.ip_local_port_range;
    expect(a.port).toBeGreaterThanOrEqual(lo);
    expect(a.port).toBeLessThanOrEqual(hi);
    expect(() => c.connect(53, '10.2.0.2')).toThrow(expect.objectContaining({ code: 'EISCONN' }));
    expect(() => L!.s.udp.createSocket().connect(53, '198.51.100.1')).toThrow(expect.objectContaining({ code: 'ENETUNREACH' }));
    expect(() => L!.s.udp.createSocket().connect(53, '10.1.0.255')).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(L.s.sockets()).toContainEqual(expect.objectContaining({ netid: 'udp', state: 'ESTAB', localAddress: '10.2.0.1', localPort: a.port, peerAddress: '10.2.0.2', peerPort: 53 }));
  });

  it('SO_REUSEPORT group on the stack: each flow sticks to one socket, flows spread over all', async () => {
    L = await udpLab();
    const per = [0, 0, 0];
    const socks = per.map((_, k) => L!.s.udp.createSocket({ reusePort: true }).bind(8000).on('message', () => per[k]++));
    expect(() => L!.s.udp.createSocket().bind(8000)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const frames = [];
    for (let p = 1; p <= 150; p++) frames.push(L.udp({ sport: 20000 + p, dport: 8000 }));
    await L.rx(...frames);
    expect(per.reduce((a, b) => a + b)).toBe(150);
    for (const n of per) expect(n).toBeGreaterThan(20);
    for (const s of socks) s.close();
  });
});

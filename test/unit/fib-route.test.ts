import { describe, expect, it } from 'vitest';
import { formatCidr, formatIPv4, maskLen, maskOf, parseCidr, parseIPv4 } from '../../src/wire/addr.ts';
import {
  Fib,
  formatRoute,
  parseRoute,
  parseRouteMatch,
  RTN_BLACKHOLE,
  RTN_PROHIBIT,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  type Route,
} from '../../src/ipv4/fib/fib.ts';

const devs = ['p0', 'p1', 'p2'];
const devIndex = (n: string) => devs.indexOf(n);
const devName = (i: number) => devs[i] ?? `#${i}`;
const ip = parseIPv4;

function connected(fib: Fib, cidr: string, oif: number): void {
  const c = parseCidr(cidr);
  fib.add({ prefix: c.prefix, len: c.len, type: RTN_UNICAST, gateway: 0, oif, metric: 0, proto: 'kernel' });
}

describe('addr', () => {
  it('parses and formats', () => {
    expect(parseIPv4('10.1.2.3')).toBe(0x0a010203);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIPv4(0xc0a80001)).toBe('192.168.0.1');
    expect(parseCidr('10.0.0.0/8')).toEqual({ prefix: 0x0a000000, len: 8 });
    expect(parseCidr('10.1.2.3')).toEqual({ prefix: 0x0a010203, len: 32 });
    expect(parseCidr('10.1.2.3/255.255.0.0')).toEqual({ prefix: 0x0a010000, len: 16 });
    expect(parseCidr('10.1.2.3/8')).toEqual({ prefix: 0x0a000000, len: 8 });
    expect(formatCidr(0, 0)).toBe('0.0.0.0/0');
    expect(maskOf(0)).toBe(0);
    expect(maskOf(32)).toBe(0xffffffff);
    expect(maskLen(0xffffff00)).toBe(24);
    expect(maskLen(0xff00ff00)).toBe(-1);
  });
  it('names the bad text', () => {
    expect(() => parseIPv4('10.1.2')).toThrow('invalid IPv4 address "10.1.2"');
    expect(() => parseIPv4('10.1.2.256')).toThrow('"10.1.2.256"');
    expect(() => parseCidr('10.0.0.0/33')).toThrow('invalid prefix length "33"');
    expect(() => parseCidr('10.0.0.1/8', true)).toThrow('host bits set');
  });
});

describe('parseRoute / formatRoute', () => {
  it('parses iproute2 syntax', () => {
    expect(parseRoute('10.9.0.0/24 dev p1', devIndex)).toEqual({ prefix: ip('10.9.0.0'), len: 24, type: RTN_UNICAST, gateway: 0, oif: 1, metric: 0, proto: 'static' });
    expect(parseRoute('default via 10.1.0.254 dev p0 metric 10', devIndex)).toMatchObject({ prefix: 0, len: 0, gateway: ip('10.1.0.254'), oif: 0, metric: 10 });
    expect(parseRoute('10.3.0.0/16 via 10.2.0.2', devIndex)).toMatchObject({ gateway: ip('10.2.0.2'), oif: -1 });
    expect(parseRoute('blackhole 192.0.2.0/24', devIndex)).toMatchObject({ type: RTN_BLACKHOLE, len: 24 });
    expect(parseRoute('unreachable 198.51.100.0/24', devIndex).type).toBe(RTN_UNREACHABLE);
    expect(parseRoute('prohibit 203.0.113.0/24', devIndex).type).toBe(RTN_PROHIBIT);
    expect(parseRoute('10.7.7.7 dev p2 src 10.2.0.1', devIndex)).toMatchObject({ len: 32, oif: 2, src: ip('10.2.0.1') });
    expect(parseRouteMatch('10.3.0.0/16', devIndex)).toEqual({ prefix: ip('10.3.0.0'), len: 16 });
  });
  it('refuses bad words, naming them', () => {
    expect(() => parseRoute('10.3.0.0/16 vai 10.2.0.2', devIndex)).toThrow('"vai" is unknown, expected via|dev|metric|src');
    expect(() => parseRoute('10.3.0.0/16 dev p9', devIndex)).toThrow('Cannot find device "p9"');
    expect(() => parseRoute('10.3.0.0/16 via 10.2.0', devIndex)).toThrow('"10.2.0"');
    expect(() => parseRoute('10.3.0.1/16 dev p0', devIndex)).toThrow('"10.3.0.1/16"');
    expect(() => parseRoute('10.3.0.0/16 metric x', devIndex)).toThrow('"x" is not a valid metric');
    expect(() => parseRoute('10.3.0.0/16 dev', devIndex)).toThrow('"dev" needs an argument');
    expect(() => parseRoute('', devIndex)).toThrow('empty route');
  });
  it('formats like ip route show and round-trips', () => {
    const lines = ['default via 10.1.0.254 dev p0 metric 10', '10.9.0.0/24 dev p1 scope link', 'blackhole 192.0.2.0/24', '10.3.0.0/16 via 10.2.0.2 dev p1', 'unreachable 10.8.0.0/16 metric 5'];
    for (const l of lines) expect(formatRoute(parseRoute(l, devIndex), devName)).toBe(l);
    const k: Route = { prefix: ip('10.1.0.0'), len: 24, type: RTN_UNICAST, gateway: 0, oif: 0, metric: 0, proto: 'kernel', src: ip('10.1.0.1') };
    expect(formatRoute(k, devName)).toBe('10.1.0.0/24 dev p0 proto kernel scope link src 10.1.0.1');
  });
});

describe('Fib', () => {
  it('longest prefix wins; no route is -1', () => {
    const fib = new Fib();
    connected(fib, '10.1.0.0/24', 0);
    connected(fib, '10.2.0.0/24', 1);
    fib.add(parseRoute('10.0.0.0/8 via 10.1.0.254', devIndex));
    fib.add(parseRoute('10.3.0.0/16 via 10.2.0.2', devIndex));
    fib.add(parseRoute('10.3.4.128/25 dev p2', devIndex));
    const nh = (a: string) => fib.lookup(ip(a));
    expect(fib.nhOif[nh('10.1.0.9')]).toBe(0);
    expect(fib.nhGateway[nh('10.1.0.9')]).toBe(0);
    expect(fib.nhGateway[nh('10.3.9.9')]).toBe(ip('10.2.0.2'));
    expect(fib.nhOif[nh('10.3.9.9')]).toBe(1); // resolved through the connected route
    expect(fib.nhOif[nh('10.3.4.200')]).toBe(2);
    expect(fib.nhGateway[nh('10.3.4.100')]).toBe(ip('10.2.0.2'));
    expect(fib.nhGateway[nh('10.99.0.1')]).toBe(ip('10.1.0.254'));
    expect(nh('11.0.0.1')).toBe(-1);
    expect(fib.route(ip('10.3.4.200'))?.len).toBe(25);
  });
  it('lowest metric wins; deleting it exposes the next', () => {
    const fib = new Fib();
    connected(fib, '10.1.0.0/24', 0);
    connected(fib, '10.2.0.0/24', 1);
    fib.add(parseRoute('default via 10.1.0.254 metric 20', devIndex));
    fib.add(parseRoute('default via 10.2.0.254 metric 10', devIndex));
    expect(fib.nhGateway[fib.lookup(ip('8.8.8.8'))]).toBe(ip('10.2.0.254'));
    expect(() => fib.add(parseRoute('default via 10.1.0.1 metric 10', devIndex))).toThrow('RTNETLINK answers: File exists');
    fib.del(parseRouteMatch('default metric 10', devIndex));
    expect(fib.nhGateway[fib.lookup(ip('8.8.8.8'))]).toBe(ip('10.1.0.254'));
    expect(fib.nhMetric[fib.lookup(ip('8.8.8.8'))]).toBe(20);
    fib.del(parseRouteMatch('default', devIndex));
    expect(fib.lookup(ip('8.8.8.8'))).toBe(-1);
    expect(() => fib.del(parseRouteMatch('default', devIndex))).toThrow('RTNETLINK answers: No such process');
  });
  it('deleting a more specific route re-exposes the less specific one (both levels)', () => {
    const fib = new Fib();
    fib.add(parseRoute('10.0.0.0/8 dev p0', devIndex));
    fib.add(parseRoute('10.1.2.0/24 dev p1', devIndex));
    fib.add(parseRoute('10.1.2.64/26 dev p2', devIndex));
    fib.add(parseRoute('10.1.2.70 dev p0 metric 3', devIndex));
    expect(fib.tbl8Groups).toBe(1);
    expect(fib.nhOif[fib.lookup(ip('10.1.2.70'))]).toBe(0);
    expect(fib.nhMetric[fib.lookup(ip('10.1.2.70'))]).toBe(3);
    fib.del(parseRouteMatch('10.1.2.70', devIndex));
    expect(fib.nhOif[fib.lookup(ip('10.1.2.70'))]).toBe(2);
    fib.del(parseRouteMatch('10.1.2.64/26', devIndex));
    expect(fib.tbl8Groups).toBe(0);
    expect(fib.nhOif[fib.lookup(ip('10.1.2.70'))]).toBe(1);
    fib.del(parseRouteMatch('10.1.2.0/24', devIndex));
    expect(fib.nhOif[fib.lookup(ip('10.1.2.70'))]).toBe(0);
  });
  it('blackhole / unreachable / prohibit carry their type', () => {
    const fib = new Fib();
    fib.add(parseRoute('blackhole 192.0.2.0/24', devIndex));
    fib.add(parseRoute('unreachable 198.51.100.0/24', devIndex));
    fib.add(parseRoute('prohibit 203.0.113.0/24', devIndex));
    expect(fib.nhType[fib.lookup(ip('192.0.2.1'))]).toBe(RTN_BLACKHOLE);
    expect(fib.nhType[fib.lookup(ip('198.51.100.1'))]).toBe(RTN_UNREACHABLE);
    expect(fib.nhType[fib.lookup(ip('203.0.113.1'))]).toBe(RTN_PROHIBIT);
  });
  it('refuses a gateway not on a connected network', () => {
    const fib = new Fib();
    connected(fib, '10.1.0.0/24', 0);
    expect(() => fib.add(parseRoute('10.3.0.0/16 via 10.2.0.2', devIndex))).toThrow('Nexthop has invalid gateway');
    expect(() => fib.add(parseRoute('10.3.0.0/16 via 10.1.0.2 dev p1', devIndex))).toThrow('Nexthop has invalid gateway');
    fib.add(parseRoute('10.3.0.0/16 via 10.1.0.2 dev p0', devIndex));
    // a gateway reachable only through another gateway is refused too (resolution is one level)
    expect(() => fib.add(parseRoute('10.4.0.0/16 via 10.3.0.1', devIndex))).toThrow('Nexthop has invalid gateway');
  });
  it('replace swaps in place; list is ordered', () => {
    const fib = new Fib();
    fib.add(parseRoute('10.9.0.0/24 dev p1', devIndex));
    fib.replace(parseRoute('10.9.0.0/24 dev p2', devIndex));
    expect(fib.size).toBe(1);
    expect(fib.nhOif[fib.lookup(ip('10.9.0.1'))]).toBe(2);
    fib.replace(parseRoute('default dev p0', devIndex));
    expect(fib.list().map((r) => formatRoute(r, devName))).toEqual(['default dev p0 scope link', '10.9.0.0/24 dev p2 scope link']);
  });
  it('edges of the address space and of the /24 split', () => {
    const fib = new Fib();
    const add = (t: string) => fib.add(parseRoute(t, devIndex));
    add('255.255.255.255 dev p2');
    add('0.0.0.0 dev p1');
    add('128.0.0.0/1 dev p0');
    add('10.1.1.0/24 dev p1');
    add('10.1.1.0/25 dev p2');
    const oif = (a: string) => fib.nhOif[fib.lookup(ip(a))];
    expect(oif('255.255.255.255')).toBe(2);
    expect(oif('255.255.255.254')).toBe(0);
    expect(oif('0.0.0.0')).toBe(1);
    expect(fib.lookup(ip('0.0.0.1'))).toBe(-1);
    expect(fib.lookup(0xffffffff | 0)).toBe(fib.lookup(0xffffffff)); // int32 or u32 input alike
    expect(oif('10.1.1.127')).toBe(2);
    expect(oif('10.1.1.128')).toBe(1);
    add('default dev p0 metric 5'); // /0 over a table with groups: groups keep their deeper entries
    expect(oif('10.1.1.127')).toBe(2);
    expect(oif('10.1.1.128')).toBe(1);
    expect(oif('0.0.0.1')).toBe(0);
    fib.del(parseRouteMatch('10.1.1.0/24', devIndex));
    expect(oif('10.1.1.128')).toBe(0);
    expect(fib.nhMetric[fib.lookup(ip('10.1.1.128'))]).toBe(5);
  });
  it('flush removes what the filter names', () => {
    const fib = new Fib();
    fib.add(parseRoute('10.0.0.0/8 dev p0', devIndex));
    fib.add(parseRoute('10.1.0.0/16 dev p1', devIndex));
    fib.add(parseRoute('10.1.2.128/25 dev p1', devIndex));
    expect(fib.flush((r) => r.oif === 1)).toBe(2);
    expect(fib.tbl8Groups).toBe(0);
    expect(fib.nhOif[fib.lookup(ip('10.1.2.200'))]).toBe(0);
    expect(fib.flush()).toBe(1);
    expect(fib.lookup(ip('10.1.2.200'))).toBe(-1);
  });
  it('shares next hops and frees them', () => {
    const fib = new Fib({ maxNexthops: 2 });
    fib.add(parseRoute('10.1.0.0/16 dev p0', devIndex));
    fib.add(parseRoute('10.2.0.0/16 dev p0', devIndex));
    fib.add(parseRoute('10.3.0.0/16 dev p1', devIndex));
    expect(() => fib.add(parseRoute('10.4.0.0/16 dev p2', devIndex))).toThrow('next-hop table full');
    fib.del(parseRouteMatch('10.3.0.0/16', devIndex));
    fib.add(parseRoute('10.4.0.0/16 dev p2', devIndex));
    expect(fib.nhOif[fib.lookup(ip('10.4.0.1'))]).toBe(2);
    expect(fib.nhOif[fib.lookup(ip('10.2.0.1'))]).toBe(0);
  });
});

// softnet trace on a stack of memory ports (the transport UDP lab: p0 10.1.0.1/24 with the peer
// 10.1.0.2, p1 10.2.0.1/24 with 10.2.0.2): the records of traced packets, stage by stage, for the
// fates a packet can have — forwarded (TTL, MACs), delivered to a socket, refused by a full
// socket, dropped by a netfilter rule (named), answered with an ICMP error (no route, closed
// port) — and untraced packets untouched beside them.
import { afterEach, describe, expect, it } from 'vitest';
import { formatTrace, type TraceRecord } from '../../src/stack/trace.ts';
import { udpLab, type UdpLab } from '../support/transport-udp.ts';

let lab: UdpLab | null = null;
afterEach(async () => {
  await lab?.stop();
  lab = null;
});

async function traced(l: UdpLab, filter: string, frames: Uint8Array[], count?: number): Promise<TraceRecord[]> {
  const got: TraceRecord[] = [];
  const stop = l.s.trace(filter, { count }, (r) => got.push(...r));
  await l.rx(...frames);
  stop();
  return got;
}

const path = (r: TraceRecord) => r.steps.map((s) => s.stage);

describe('softnet trace (memory ports)', () => {
  it('a forwarded datagram: every stage, the TTL and MAC rewrites, tx on p1; untraced packets pass by', async () => {
    lab = await udpLab('sysctl: {ip_forward: 1}');
    const l = lab;
    const recs = await traced(l, 'udp dst port 9', [l.udp({ dport: 8, dst: '10.2.0.2' }), l.udp({ dport: 9, dst: '10.2.0.2' }), l.udp({ dport: 8, dst: '10.2.0.2' })]);
    expect(recs).toHaveLength(1);
    const r = recs[0];
    console.log(formatTrace(r));
    expect(r.dev).toBe('p0');
    expect(r.summary).toBe('IP 10.1.0.2.40000 > 10.2.0.2.9: UDP, length 0');
    expect(path(r)).toEqual(['eth-input', 'ip-rcv', 'ip-forward', 'neigh-output', 'dev-xmit']);
    expect(r.steps[0].verdict).toBe('-> ip-rcv');
    const fwd = r.steps.find((s) => s.stage === 'ip-forward')!;
    expect(fwd.verdict).toBe('-> neigh-output');
    expect(fwd.rewrites).toContain('ttl 64->63');
    expect(fwd.counters).toEqual(expect.arrayContaining(['Ip.ForwDatagrams', 'Ip.OutTransmits']));
    const neigh = r.steps.find((s) => s.stage === 'neigh-output')!;
    expect(neigh.rewrites.join(' ')).toMatch(/eth dst .*->02:00:00:00:00:98/);
    expect(r.end).toMatch(/^tx on p1 \(mem1\)/);
    // The three went out, in order.
    expect(l.s.port('p1').stats().tx_packets).toBe(3);
  });

  it('delivered to a socket; refused by a full one (udp.RcvbufErrors); dropped by a rule, named', async () => {
    lab = await udpLab('netfilter:\n  - -A INPUT -p udp --dport 9001 -j DROP');
    const l = lab;
    const sock = l.s.udp.createSocket().bind(5000);
    l.s.sysctl('net.core.rmem_max', 4096);
    sock.setRecvBufferSize(4096); // a few 2 KiB frames, then refused
    const recs = await traced(l, 'udp', [5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 9001].map((p) => l.udp({ dport: p, payload: 10 })));
    const ends = recs.map((r) => r.end);
    const k = ends.findIndex((e) => e.startsWith('dropped'));
    expect(k).toBeGreaterThan(1);
    expect(ends[0]).toMatch(/^delivered to udp socket 0\.0\.0\.0:5000 \(UNCONN, Recv-Q 2048\)$/);
    for (const e of ends.slice(0, k)) expect(e).toMatch(/^delivered to udp socket 0\.0\.0\.0:5000 \(UNCONN, Recv-Q \d+\)$/);
    for (const e of ends.slice(k, 8)) expect(e).toMatch(/^dropped: udp\.RcvbufErrors udp socket 0\.0\.0\.0:5000 \(UNCONN, Recv-Q \d+\)$/);
    expect(ends[8]).toBe('dropped: netfilter.drop');
    expect(sock.queued).toBe(k);
    for (const r of recs.slice(k - 1)) console.log(formatTrace(r));
    expect(recs[7].steps.at(-1)!.counters).toEqual(expect.arrayContaining(['Udp.RcvbufErrors', 'Udp.InErrors']));
    const nf = recs[8].steps.at(-1)!;
    expect(nf.stage).toBe('ip-local-deliver');
    expect(nf.rules).toEqual(['-A INPUT -p udp -m udp --dport 9001 -j DROP']);
    sock.close();
  });

  it('rules named through a user chain and a DROP policy (counters compared in -S order)', async () => {
    lab = await udpLab('netfilter:\n  - -N SVC\n  - -A INPUT -p udp --dport 5000 -j ACCEPT\n  - -A INPUT -p udp -j SVC\n  - -A SVC -p udp --dport 9002 -j DROP\n  - -P INPUT DROP');
    const l = lab;
    const recs = await traced(l, 'udp', [9002, 9003].map((p) => l.udp({ dport: p })));
    expect(recs.map((r) => r.end)).toEqual(['dropped: netfilter.drop', 'dropped: netfilter.drop']);
    expect(recs[0].steps.at(-1)!.rules).toEqual(['-A INPUT -p udp -j SVC', '-A SVC -p udp -m udp --dport 9002 -j DROP']);
    expect(recs[1].steps.at(-1)!.rules).toEqual(['-P INPUT DROP', '-A INPUT -p udp -j SVC']);
  });

  it('no route: ip-rcv answers net unreachable in place, back out on p0; a closed port: port unreachable', async () => {
    lab = await udpLab('sysctl: {ip_forward: 1}');
    const l = lab;
    const recs = await traced(l, 'udp', [l.udp({ dport: 7777, dst: '192.0.2.1' }), l.udp({ dport: 7777 })]);
    expect(recs).toHaveLength(2);
    for (const r of recs) console.log(formatTrace(r));
    const [noRoute, closed] = recs;
    expect(noRoute.steps[1].stage).toBe('ip-rcv');
    expect(noRoute.steps[1].verdict).toBe('-> ip-output');
    expect(noRoute.steps[1].rewrites).toEqual(expect.arrayContaining(['proto udp->icmp', 'saddr 10.1.0.2->10.1.0.1', 'daddr 192.0.2.1->10.1.0.2', 'icmp type 3 code 0']));
    expect(noRoute.steps[1].counters).toContain('Icmp.OutDestUnreachs');
    expect(noRoute.end).toMatch(/^tx on p0/);
    const udpStep = closed.steps.find((s) => s.stage === 'udp-rcv')!;
    expect(udpStep.verdict).toBe('-> ip-output');
    expect(udpStep.rewrites).toContain('icmp type 3 code 3');
    expect(udpStep.counters).toContain('Udp.NoPorts');
    expect(closed.end).toMatch(/^tx on p0/);
  });

  it('--count stops selecting; one trace at a time', async () => {
    lab = await udpLab();
    const l = lab;
    const got: TraceRecord[] = [];
    let done = false;
    const stop = l.s.trace('udp', { count: 2 }, (r, _m, d) => {
      got.push(...r);
      done ||= d;
    });
    expect(() => l.s.trace('icmp', {}, () => {})).toThrow(/a trace is running already/);
    await l.rx(...[1, 2, 3, 4].map((p) => l.udp({ dport: p })));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toHaveLength(2);
    expect(done).toBe(true);
    expect(l.s.graph.tracer).toBe(null);
    stop();
  });
});

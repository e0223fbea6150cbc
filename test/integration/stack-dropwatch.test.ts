// softnet dropwatch against a stack on a veth (xdp-drv) with a kernel host as the sender: a UDP
// socket nobody reads (udp.RcvbufErrors once its buffer is full) and an INPUT DROP rule on
// another port (netfilter.drop with the rule), fed 2:1 by one paced sender. dropwatch --json
// shows both with the right stage, the faster first, at about the sent rates; the plain form
// prints one line per counter; the counters add up to what the kernel host sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../src/stack/stack.ts';
import { pacedUdpArgv } from '../../src/tools/udp-sender.ts';
import { softnet } from '../support/cli.ts';
import { peerProcess } from '../support/kernel-peer.ts';
import { labTeardown, labWithStack } from '../support/lab-stack.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'dropw';
let stack: Stack;
let A: string;

beforeAll(async () => {
  const made = await labWithStack(LAB, `netfilter:\n  - -A INPUT -p udp --dport 9001 -j DROP`);
  stack = made.stack;
  A = made.lab.a.host.ns;
});

afterAll(() => labTeardown(LAB, stack));

interface Row {
  stage: string;
  counter: string;
  detail: string;
  rate: number;
  delta: number;
  total: number;
}

describe('softnet dropwatch', () => {
  it('shows udp.RcvbufErrors and the DROP rule, fastest first, at the sent rates; the counters add up to what was sent', { timeout: 120_000 }, async () => {
    const sock = stack.udp.createSocket().bind(5000); // never read: full after rcvbuf
    const base = stack.stats();
    // 600 datagrams/s for 6 s: every 3rd to 9001 (dropped by the rule), the rest to 5000.
    const sender = peerProcess(A, pacedUdpArgv({ dst: '10.1.0.1', port: 5000, rate: 600, seconds: 6, size: 32, alt: { port: 9001, every: 3 } }));
    try {
      // Sampling starts once drops flow (the buffer takes the first 105).
      await waitFor('RcvbufErrors to climb', () => stack.stats().mib.Udp.RcvbufErrors > base.mib.Udp.RcvbufErrors);
      const r = await softnet(['dropwatch', '--name', LAB, '--json', '--count', '3', '--interval', '1']);
      expect(r.code, r.stderr).toBe(0);
      const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { time: string; interval: number; drops: Row[] });
      expect(samples).toHaveLength(3);
      const s = samples[1]; // a whole second inside the flood
      expect(s.interval).toBeGreaterThan(0.5);
      const rows = s.drops.filter((d) => d.counter === 'udp.RcvbufErrors' || d.counter === 'netfilter.drop');
      expect(rows.map((d) => d.counter), JSON.stringify(s)).toEqual(['udp.RcvbufErrors', 'netfilter.drop']);
      expect(rows[0].stage).toBe('udp-rcv');
      expect(rows[1].stage).toBe('ip-local-deliver');
      expect(rows[1].detail).toMatch(/^-A INPUT -p udp .*--dport 9001 -j DROP$/);
      // 400/s and 200/s sent; a loaded 2-core box delays samples, so the ratio and broad bounds.
      expect(rows[0].rate / rows[1].rate).toBeGreaterThan(1.3);
      expect(rows[0].rate / rows[1].rate).toBeLessThan(3);
      expect(rows[0].rate).toBeGreaterThan(150);
      expect(rows[0].rate).toBeLessThan(800);
      expect(rows[0].total).toBeGreaterThanOrEqual(rows[0].delta);
      // Rates are the deltas over the interval.
      for (const d of s.drops) expect(d.rate).toBeCloseTo(d.delta / s.interval, 3);

      // The plain form, not a terminal here: "HH:MM:SS  stage  counter  drops/s  total  detail".
      const p = await softnet(['dropwatch', '--name', LAB, '--count', '1', '--interval', '0.5']);
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/^\d\d:\d\d:\d\d {2}udp-rcv +udp\.RcvbufErrors +\d+ +\d+$/m);
    } catch (e) {
      sender.stop();
      throw e;
    }
    await sender.exit; // the whole 6 s: its count is what it sent
    const sent = Number(sender.out().trim());
    expect(sent).toBeGreaterThan(3000);
    // Every datagram: queued in the socket, refused by it, dropped by the rule, or lost by the
    // driver (fill ring empty on a loaded box, counted rx_dropped).
    const total = () => {
      const st = stack.stats();
      const rule = stack.netfilter.counters('filter', 'INPUT', 1).pkts;
      const drv = (st.ports.p0.rx_dropped as number) - (base.ports.p0.rx_dropped as number);
      return { rule, drv, rcvbuf: st.mib.Udp.RcvbufErrors - base.mib.Udp.RcvbufErrors, queued: sock.queued };
    };
    await waitFor('every datagram counted', () => {
      const t = total();
      return t.rule + t.drv + t.rcvbuf + t.queued >= sent;
    }, { detail: () => JSON.stringify({ sent, ...total() }) });
    const t = total();
    expect(t.rule + t.drv + t.rcvbuf + t.queued).toBe(sent);
    sock.close();
  });
});

// Hostile traffic must not stop forwarding. Two identical labs side by side:
//
//   sn-hostile-a  (A 10.1.0.2/24) -- snhostile-a0 | softnet (root ns, xdp-drv) | snhostile-b0 -- sn-hostile-b  (B 10.2.0.2/16)
//   sn-hostile-la (A 10.1.0.2/24) -- snhostile-la0 | Linux router, ns sn-hostile-lr | snhostile-lb0 -- sn-hostile-lb (B 10.2.0.2/16)
//
// Same addresses and MACs on both, so the same seeded frames (hostile-frames.ts) reach each
// router from A: first a burst of mutated and spoofed frames of every kind, then a scan of B's
// /16 (a new neighbour per frame). A pings B every 10 ms throughout. softnet must forward again
// after each burst (polled, with a deadline), and its loss during and after each burst and its
// time to the first answer must be Linux's plus the tolerances below. Both sets of figures are
// logged. With an earlier neighbour table the scan made softnet lose ~60% of the pings during
// it (pending frames starved the pool, live entries were evicted); Linux lost none.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { benignFrames, hostileFrames, scanFrames, sendFrameFile, writeFrameFile, type HostileAddrs } from '../support/hostile-frames.ts';
import { peerProcess } from '../support/kernel-peer.ts';
import { hasXdp, Lab, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const SEED = Number(process.env.SN_HOSTILE_SEED ?? 8);
const FRAMES = Number(process.env.SN_HOSTILE_FRAMES ?? 200_000);
const SCAN = Number(process.env.SN_HOSTILE_SCAN ?? 100_000);
const FILES = { mix: `/tmp/sn-hostile-mix-${process.pid}.bin`, scan: `/tmp/sn-hostile-scan-${process.pid}.bin` };
// Tolerances, in percentage points of ping loss over Linux's. During a burst softnet (a user-space
// router sharing 2 cores with the sender) drops frames at its fill ring when it cannot keep up —
// 2.4% of the pings with well-formed datagrams at the same rate (SN_HOSTILE_BENIGN=1), 1.5-11%
// in the hostile runs measured, Linux 0% — so the allowance during a burst is wide (the table
// starvation this guards against lost ~60%); after a burst softnet must be as good as Linux.
const TOL_DURING = 30;
const TOL_AFTER = 5;
const TOL_RECOVERY_MS = 1000;
const MAC = { a0: '02:00:0a:01:00:01', a1: '02:00:0a:01:00:02', b0: '02:00:0a:02:00:01', b1: '02:00:0a:02:00:02' };
const ADDRS: HostileAddrs = { routerMac: MAC.a0, routerIp: '10.1.0.1', aMac: MAC.a1, aIp: '10.1.0.2', bIp: '10.2.0.2', bPrefix: 16 };

interface Path {
  label: string;
  a: string;
  aDev: string;
}

const lab = new Lab();
let stack: Stack | null = null;
const soft: Path = { label: 'softnet', a: 'sn-hostile-a', aDev: 'snhostile-a1' };
const linux: Path = { label: 'linux', a: 'sn-hostile-la', aDev: 'snhostile-la1' };

/** One side: host `hostDev` in `hostNs` (net.2/plen), router end `rDev` in `rNs` (null: root ns, no address). */
function side(rNs: string | null, rDev: string, hostNs: string, hostDev: string, mac0: string, mac1: string, net: string, plen: number): void {
  lab.routerLink({ dev: rDev, routerNs: rNs, hostDev, hostNs, net, plen, mac: mac0, hostMac: mac1 });
}

beforeAll(async () => {
  const a = lab.netns('hostile-a');
  const b = lab.netns('hostile-b');
  const la = lab.netns('hostile-la');
  const lb = lab.netns('hostile-lb');
  const lr = lab.netns('hostile-lr');
  for (const ns of [a, b, la, lb, lr]) run(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
  side(null, 'snhostile-a0', a, 'snhostile-a1', MAC.a0, MAC.a1, '10.1.0', 24);
  side(null, 'snhostile-b0', b, 'snhostile-b1', MAC.b0, MAC.b1, '10.2.0', 16);
  side(lr, 'snhostile-la0', la, 'snhostile-la1', MAC.a0, MAC.a1, '10.1.0', 24);
  side(lr, 'snhostile-lb0', lb, 'snhostile-lb1', MAC.b0, MAC.b1, '10.2.0', 16);
  run(lr, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  stack = new Stack({ name: 'snhostile' });
  await stack.addPort({ name: 'p0', dev: 'snhostile-a0', mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: 'snhostile-b0', mode: 'xdp-drv', addresses: ['10.2.0.1/16'] });
  await stack.start();
  const hostile = hostileFrames(SEED, FRAMES, ADDRS);
  // SN_HOSTILE_BENIGN=1: the control run, well-formed datagrams of the same sizes instead.
  writeFrameFile(FILES.mix, process.env.SN_HOSTILE_BENIGN === '1' ? benignFrames(SEED, FRAMES, ADDRS, hostile.map((f) => f.length)) : hostile);
  writeFrameFile(FILES.scan, scanFrames(SEED, SCAN, ADDRS));
});

afterAll(async () => {
  for (const f of Object.values(FILES)) rmSync(f, { force: true });
  try {
    if (stack) {
      const acct = await stack.stop();
      expect(acct.lost).toBe(0);
      expect(hasXdp('snhostile-a0')).toBe(false);
      expect(hasXdp('snhostile-b0')).toBe(false);
    }
  } finally {
    expect(lab.cleanup()).toEqual([]);
  }
});

interface PingLog {
  /** icmp_seq -> [unix ms of its line, answered] */
  seqs: Map<number, [number, boolean]>;
}

/**
 * Ping B from A every 10 ms until stop(); -D -O give every sequence number a timestamped line
 * (a reply, or "no answer yet" when the next one is sent), so loss can be split by time window.
 */
function pinger(p: Path): { stop: () => Promise<PingLog>; latestMs: () => number } {
  const c = peerProcess(p.a, ['ping', '-n', '-D', '-O', '-i', '0.01', '-W', '1', '-w', '120', '10.2.0.2']);
  return {
    /** Timestamp (unix ms) of the last ping line seen so far: how far the log reaches. */
    latestMs: () => {
      const out = c.out();
      const i = out.lastIndexOf('\n[');
      const m = /^\[(\d+\.\d+)\]/.exec(out.slice(i + 1));
      return m ? Number(m[1]) * 1000 : 0;
    },
    stop: async () => {
      c.stop('SIGINT');
      await c.exit;
      const seqs = new Map<number, [number, boolean]>();
      for (const m of c.out().matchAll(/^\[(\d+\.\d+)\] (64 bytes from|no answer yet for).*?icmp_seq=(\d+)/gm)) {
        const seq = Number(m[3]);
        const ok = m[2].startsWith('64');
        const prev = seqs.get(seq);
        seqs.set(seq, [prev ? prev[0] : Number(m[1]) * 1000, ok || (prev?.[1] ?? false)]);
      }
      return { seqs };
    },
  };
}

/** Pings whose line falls in [from, to) (unix ms): sent and lost. */
function window(log: PingLog, from: number, to: number): { sent: number; lost: number; lossPct: number } {
  let sent = 0;
  let lost = 0;
  for (const [ts, ok] of log.seqs.values()) {
    if (ts < from || ts >= to) continue;
    sent++;
    if (!ok) lost++;
  }
  return { sent, lost, lossPct: sent === 0 ? 100 : Math.round((1000 * lost) / sent) / 10 };
}

/** Unix ms of the first answered ping at or after t, or Infinity. */
function firstAnswerAfter(log: PingLog, t: number): number {
  let best = Infinity;
  for (const [ts, ok] of log.seqs.values()) if (ok && ts >= t && ts < best) best = ts;
  return best;
}

type Phase = { sent: number; burstMs: number; during: ReturnType<typeof window>; after: ReturnType<typeof window>; recoveryMs: number };

describe('hostile traffic from A does not stop forwarding A -> B', () => {
  it('softnet forwards during and after the bursts no worse than the Linux router', async () => {
    const res: Record<string, Record<string, Phase>> = {};
    const frag: Record<string, number> = {};
    for (const p of [linux, soft]) {
      res[p.label] = {};
      // Live traffic A -> B before, during and after the bursts.
      const ping = pinger(p);
      const marks: Array<[keyof typeof FILES, number, number, number]> = [];
      let log: PingLog;
      try {
        await waitFor(`${p.label}: ping A -> B to get through`, async () => (await nsExec(p.a, ['ping', '-n', '-c', '1', '-W', '0.5', '10.2.0.2'])).code === 0, 20_000);
        for (const kind of ['mix', 'scan'] as const) {
          const t0 = Date.now();
          const sent = await sendFrameFile(p.a, p.aDev, FILES[kind]);
          const t1 = Date.now();
          // Forwarding again: a ping answered (polled, deadline 20 s); then 2 s of pings to count.
          await waitFor(`${p.label}: a ping answered after the ${kind} burst`, async () => (await nsExec(p.a, ['ping', '-n', '-c', '1', '-W', '0.2', '10.2.0.2'])).code === 0, 20_000);
          // The 2 s after the burst are counted from ping's own lines: wait until they reach past it.
          await waitFor(`${p.label}: ping lines past the 2 s after the ${kind} burst`, () => ping.latestMs() >= t1 + 2000, 20_000);
          marks.push([kind, t0, t1, sent.sent]);
          // Reassembly for the router itself still works after the never-completed fragments.
          const big = await nsExec(p.a, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', '-s', '1600', '10.1.0.1']);
          frag[p.label] = (frag[p.label] ?? 0) + (/(\d+) received/.exec(big.stdout)?.[1] ? Number(/(\d+) received/.exec(big.stdout)![1]) : 0);
        }
      } finally {
        log = await ping.stop();
      }
      for (const [kind, t0, t1, sent] of marks) {
        const first = firstAnswerAfter(log, t1);
        res[p.label][kind] = { sent, burstMs: t1 - t0, during: window(log, t0, t1), after: window(log, t1, t1 + 2000), recoveryMs: Math.max(0, Math.round(first - t1)) };
      }
    }
    const st = stack!.stats();
    console.log(`stack-hostile seed ${SEED}, ${FRAMES} mixed + ${SCAN} scan frames:\n${JSON.stringify(res)}`);
    const reasm = (await nsExec('sn-hostile-lr', ['nstat', '-az', 'IpReasmReqds', 'IpReasmFails', 'IpReasmOKs'])).stdout.replace(/\s+/g, ' ').trim();
    console.log(`fragmented pings to the router answered (of 6): ${JSON.stringify(frag)}; Linux router: ${reasm}`);
    console.log(`softnet neigh ${JSON.stringify(st.mib.Neigh)}; p0 rx_dropped ${st.ports.p0.rx_dropped}`);
    for (const kind of ['mix', 'scan'] as const) {
      const s = res.softnet[kind];
      const l = res.linux[kind];
      expect(s.sent, `${kind}: every frame went out`).toBe(kind === 'mix' ? FRAMES : SCAN);
      expect(s.during.lossPct, `${kind}: loss during the burst`).toBeLessThanOrEqual(l.during.lossPct + TOL_DURING);
      expect(s.after.lossPct, `${kind}: loss in the 2 s after`).toBeLessThanOrEqual(l.after.lossPct + TOL_AFTER);
      expect(s.recoveryMs, `${kind}: time to the first answer after`).toBeLessThanOrEqual(l.recoveryMs + TOL_RECOVERY_MS);
    }
    // Never-completed fragments must not deny reassembly (ip-defrag evicts the oldest queues;
    // before, 64 of them took every queue for ipfrag_time). Linux may do worse here: its 4 MiB
    // fill up with the burst's fragments.
    expect(frag.softnet, 'fragmented pings to softnet answered').toBeGreaterThanOrEqual(Math.max(3, frag.linux - 1));
    expect(stack!.frames().lost).toBe(0);
  }, 180_000); // ~25 s on an idle 2-core VM, ~55 s with both cores busy (the Linux scan is slow)
});

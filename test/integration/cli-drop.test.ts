// softnet drop / fwd / gen against kernel peers in a lab (named 'drop': sn-drop-*, sndrop-*).
// Frames come from host A's kernel (an ordinary UDP socket), so they cross a real veth into the
// softnet side; counts are read from drop's --json and from the peer kernel's interface counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStats, labDown, labUp, nsExec, type Lab } from '../../src/tools/lab.ts';
import { softnet, spawnSoftnet } from '../support/cli.ts';
import { hasXdp } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'drop';
const N = 100_000;
let lab: Lab;

// A paced UDP flood from an ordinary socket: bursts of 100, then a 1 ms sleep (<= 100 kpps), so a
// receiver sees every frame even on a loaded 2-core machine (the test is about counting, not speed).
const FLOOD = `
import socket, sys, time
n, dst, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = b'x' * 18
sent = 0
while sent < n:
    k = min(100, n - sent)
    i = 0
    while i < k:
        try:
            s.sendto(p, (dst, port)); i += 1
        except OSError:
            time.sleep(0.001)
    sent += k
    time.sleep(0.001)
print(sent)
`;

function flood(ns: string, n: number, dst: string): Promise<number> {
  return nsExec(ns, ['python3', '-c', FLOOD, String(n), dst, '9'], { check: true, timeoutMs: 60_000 }).then((r) =>
    Number(r.stdout.trim()),
  );
}

interface Running {
  pid: number;
  ready: Promise<void>;
  /** Per-second `Summary` lines so far: [rx, err, tx] each (what the CLI counted each second). */
  seconds: () => number[][];
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start a long-running CLI command; `ready` resolves once stderr shows the port opened ("ok"). */
function startCli(args: string[], ns: string | null = null): Running {
  const p = spawnSoftnet(args, ns);
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((res) => (onReady = res));
  const seconds = () =>
    [...(stderr + stdout).matchAll(/^Summary +([\d,]+) rx\/s +([\d,]+) err\/s(?: +([\d,]+) tx\/s)?/gm)].map((m) => [1, 2, 3].map((k) => Number((m[k] ?? '0').replace(/,/g, ''))));
  p.stdout!.on('data', (d) => (stdout += d));
  p.stderr!.on('data', (d) => {
    stderr += d;
    if (/: ok\b/.test(stderr)) onReady();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    p.on('close', (code) => {
      onReady();
      res({ code, stdout, stderr });
    }),
  );
  return { pid: p.pid!, ready, done, seconds };
}

async function stopCli(r: Running): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    process.kill(r.pid, 'SIGINT');
  } catch {
    /* already gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 10_000);
  const out = await r.done;
  clearTimeout(t);
  return out;
}

/** Frames the running CLI counted so far (the sum of its per-second rx/s lines). */
const counted = (r: Running) => r.seconds().reduce((a, x) => a + x[0], 0);
/** Frames the kernel reported lost before the CLI saw them (err/s: rx_dropped, rx_ring_full...). */
const countedErr = (r: Running) => r.seconds().reduce((a, x) => a + x[1], 0);
/** Frames it sent so far (tx/s, fwd). */
const countedTx = (r: Running) => r.seconds().reduce((a, x) => a + x[2], 0);

/**
 * After the sender has finished: wait for a whole reporting second in which the CLI received
 * nothing, so every frame sent was counted or lost before it is stopped (no guessed delay).
 */
async function idleSecond(r: Running): Promise<void> {
  const n0 = r.seconds().length;
  await waitFor('a reporting second with 0 rx/s after the sender finished', () => r.seconds().slice(n0 + 1).some((x) => x[0] === 0), {
    detail: () => JSON.stringify(r.seconds().slice(n0)),
  });
}

/**
 * After the sender finished: wait until the CLI accounted for every frame sent (counted, or
 * reported lost by the kernel: a loaded machine may overrun the socket's ring), or a whole
 * reporting second passed with nothing arriving (then what is missing was lost on the way).
 */
async function accounted(r: Running, sent: number): Promise<void> {
  const n0 = r.seconds().length;
  await waitFor(
    `the CLI to account for the ${sent} frames sent`,
    () => counted(r) + countedErr(r) >= sent || r.seconds().slice(n0 + 1).some((x) => x[0] === 0),
    { detail: () => `counted ${counted(r)}, lost ${countedErr(r)}` },
  );
}

/** Frames the kernel dropped before softnet saw them, from the CLI's final stats. */
const lostIn = (stats: Record<string, number>) => (stats.rx_dropped ?? 0) + (stats.rx_ring_full ?? 0);

beforeAll(async () => {
  await labDown(LAB);
  lab = await labUp({ name: LAB, staticArp: true });
});

afterAll(async () => {
  await labDown(LAB);
  // TAP test namespace (see below) is part of the lab's host A namespace: gone with it.
  const left = await nsExec(null, ['ip', '-br', 'link']);
  expect(left.stdout).not.toMatch(new RegExp(`sn${LAB}-`));
});

describe('softnet drop', () => {
  for (const mode of ['xdp-drv', 'xdp-skb'] as const) {
    it(`counts ${N} frames from host A's kernel in ${mode} mode`, async () => {
      const r = startCli(['drop', '--dev', lab.a.dev, '--mode', mode, '--json']);
      let out: Awaited<ReturnType<typeof stopCli>>;
      try {
        await r.ready;
        const sent = await flood(lab.a.host.ns, N, lab.b.host.ip);
        expect(sent).toBe(N);
        await accounted(r, sent);
      } finally {
        out = await stopCli(r);
      }
      expect(out.code, out.stderr).toBe(0);
      const j = JSON.parse(out.stdout);
      expect(j.mode).toBe(mode);
      // Every frame counted or counted as lost by the kernel (ring overrun while this process
      // was descheduled); a few more are allowed (the peer's own ARP/ND frames).
      if (lostIn(j.stats) > 0) console.log(`drop ${mode}: ${j.packets} counted, ${lostIn(j.stats)} lost in the kernel: ${JSON.stringify(j.stats)}`);
      expect(j.packets + lostIn(j.stats), JSON.stringify(j.stats)).toBeGreaterThanOrEqual(N);
      expect(j.packets).toBeLessThan(N + 100);
      expect(j.pps).toBeGreaterThan(0);
      expect(j.seconds).toBeGreaterThan(0);
      expect(j.stats).toHaveProperty('rx_dropped');
      expect(j.report.join('\n')).toContain(`${mode}: ok`);
      expect(j.framesMissing).toBe(0);
      expect(hasXdp(lab.a.dev)).toBe(false);
    });
  }

  it(`counts ${N} frames in tap mode (TAP moved into host A's namespace)`, async () => {
    const tap = `sn${LAB}-tap`;
    const r = startCli(['drop', '--dev', tap, '--mode', 'tap', '--json']);
    try {
      await r.ready;
      const ns = lab.a.host.ns;
      // The fd keeps working after the move (notes); the namespace's kernel then sends into it.
      await nsExec(null, ['ip', 'link', 'set', tap, 'netns', ns], { check: true });
      await nsExec(ns, ['ip', 'addr', 'add', '10.9.0.2/24', 'dev', tap], { check: true });
      await nsExec(ns, ['ip', 'link', 'set', tap, 'up'], { check: true });
      await nsExec(ns, ['ip', 'neigh', 'replace', '10.9.0.1', 'lladdr', '02:00:0a:09:00:01', 'dev', tap, 'nud', 'permanent'], {
        check: true,
      });
      const sent = await flood(ns, N, '10.9.0.1');
      await accounted(r, sent);
      const out = await stopCli(r);
      expect(out.code, out.stderr).toBe(0);
      const j = JSON.parse(out.stdout);
      expect(j.mode).toBe('tap');
      expect(j.framesMissing).toBe(0);
      expect(sent).toBe(N);
      expect(j.packets).toBeGreaterThanOrEqual(N);
      expect(j.packets).toBeLessThan(N + 100);
    } finally {
      await stopCli(r);
    }
    // A non-persistent TAP disappears with its fd.
    expect((await nsExec(lab.a.host.ns, ['ip', 'link', 'show', 'dev', tap])).code).not.toBe(0);
  });

  it('busy-poll mode counts every frame too (and still stops on SIGINT)', async () => {
    const r = startCli(['drop', '--dev', lab.a.dev, '--mode', 'xdp-drv', '--busy-poll', '--json']);
    let out: Awaited<ReturnType<typeof stopCli>>;
    let sent = 0;
    try {
      await r.ready;
      sent = await flood(lab.a.host.ns, 20_000, lab.b.host.ip);
      await accounted(r, sent);
    } finally {
      out = await stopCli(r);
    }
    expect(out.code, out.stderr).toBe(0);
    const j = JSON.parse(out.stdout);
    expect(j.busyPoll).toBe(true);
    expect(j.packets + lostIn(j.stats)).toBeGreaterThanOrEqual(sent);
  });

  it('auto falls back from xdp-zc to xdp-drv on veth and says why', async () => {
    const out = await softnet(['drop', '--dev', lab.a.dev, '--duration', '0.3', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const j = JSON.parse(out.stdout);
    expect(j.mode).toBe('xdp-drv');
    expect(j.report[0]).toMatch(/^xdp-zc: failed: .*EOPNOTSUPP/);
    expect(j.report[1]).toMatch(/^xdp-drv: ok/);
  });

  it('explicit xdp-zc on veth fails with a clear message, no fallback', async () => {
    const out = await softnet(['drop', '--dev', lab.a.dev, '--mode', 'xdp-zc', '--duration', '0.3']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('EOPNOTSUPP');
    expect(out.stderr).toContain(lab.a.dev);
    expect(out.stderr).not.toMatch(/\n\s+at /);
    expect(hasXdp(lab.a.dev)).toBe(false);
  });

  it('stops by itself after --duration and prints the per-second summary', async () => {
    const out = await softnet(['drop', '--dev', lab.a.dev, '--mode', 'xdp-drv', '--duration', '1.2']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/Summary +[\d,]+ rx\/s +[\d,]+ err\/s/);
    expect(out.stdout).toMatch(/drop: \d+ packets in/);
  });
});

describe('softnet fwd', () => {
  it(`returns >= 99% of ${N} frames to host A (counted by its kernel)`, async () => {
    const r = startCli(['fwd', '--dev', lab.a.dev, '--mode', 'xdp-drv', '--json']);
    let out: Awaited<ReturnType<typeof stopCli>>;
    let sent = 0;
    const before = await devStats(lab.a.host.ns, lab.a.host.dev);
    try {
      await r.ready;
      sent = await flood(lab.a.host.ns, N, lab.b.host.ip);
      const backNow = async () => (await devStats(lab.a.host.ns, lab.a.host.dev)).rx_packets - before.rx_packets;
      await accounted(r, sent);
      await waitFor(`host A to get >= 99% back`, async () => countedTx(r) >= 0.99 * N && (await backNow()) >= 0.99 * N, { detail: () => `fwd sent ${countedTx(r)}` });
    } finally {
      out = await stopCli(r);
    }
    const after = await devStats(lab.a.host.ns, lab.a.host.dev);
    expect(out.code, out.stderr).toBe(0);
    const j = JSON.parse(out.stdout);
    expect(sent).toBe(N);
    const back = after.rx_packets - before.rx_packets;
    expect(back, JSON.stringify(j)).toBeGreaterThanOrEqual(0.99 * N);
    expect(j.tx).toBeGreaterThanOrEqual(0.99 * N);
    expect(j.tx + j.txRefused).toBeLessThanOrEqual(j.packets);
    expect(j.framesMissing).toBe(0);
    expect(hasXdp(lab.a.dev)).toBe(false);
  });
});

describe('softnet fwd (tap)', () => {
  it('writes every frame back into a TAP (counted by the kernel as TAP rx)', async () => {
    const tap = `sn${LAB}-tfw`;
    const r = startCli(['fwd', '--dev', tap, '--mode', 'tap', '--json']);
    try {
      await r.ready;
      const ns = lab.a.host.ns;
      await nsExec(null, ['ip', 'link', 'set', tap, 'netns', ns], { check: true });
      await nsExec(ns, ['ip', 'addr', 'add', '10.8.0.2/24', 'dev', tap], { check: true });
      await nsExec(ns, ['ip', 'link', 'set', tap, 'up'], { check: true });
      await nsExec(ns, ['ip', 'neigh', 'replace', '10.8.0.1', 'lladdr', '02:00:0a:08:00:01', 'dev', tap, 'nud', 'permanent'], {
        check: true,
      });
      const before = await devStats(ns, tap);
      const n = 20_000;
      await flood(ns, n, '10.8.0.1');
      await waitFor('the TAP to get >= 99% back', async () => (await devStats(ns, tap)).rx_packets - before.rx_packets >= 0.99 * n);
      await waitFor(`fwd to count the ${n} frames`, () => countedTx(r) >= n, { detail: () => `fwd sent ${countedTx(r)}` });
      const after = await devStats(ns, tap);
      const out = await stopCli(r);
      expect(out.code, out.stderr).toBe(0);
      const j = JSON.parse(out.stdout);
      expect(j.mode).toBe('tap');
      expect(j.tx).toBeGreaterThanOrEqual(n);
      expect(after.rx_packets - before.rx_packets).toBeGreaterThanOrEqual(0.99 * n);
      expect(j.framesMissing).toBe(0);
    } finally {
      await stopCli(r);
    }
  });
});

describe('softnet gen', () => {
  it('hands --count frames to the kernel: each one counted by the receiving veth or reported refused', async () => {
    const count = 100_000;
    const before = await devStats(null, lab.a.dev);
    const out = await softnet(['gen', '--dev', lab.a.host.dev, '--count', String(count), '--json'], lab.a.host.ns);
    expect(out.code, out.stderr).toBe(0);
    const j = JSON.parse(out.stdout);
    expect(j.packets).toBe(count);
    expect(['xdp-live', 'xsk-tx']).toContain(j.method);
    // The veth refuses a frame when its peer's ring is full (the peer's NAPI behind on a loaded
    // box): gen reports those, and every other frame must arrive.
    expect(j.refused).toBeGreaterThanOrEqual(0);
    const taken = count - j.refused;
    expect(taken).toBeGreaterThan(0);
    await waitFor(`the receiving veth to count the ${taken} frames not refused`, async () => (await devStats(null, lab.a.dev)).rx_packets - before.rx_packets >= taken);
    const after = await devStats(null, lab.a.dev);
    expect(after.rx_packets - before.rx_packets).toBe(taken);
  });

  it('delivers --count frames to a softnet drop on the other end', async () => {
    const count = 20_000;
    const r = startCli(['drop', '--dev', lab.b.dev, '--mode', 'xdp-drv', '--json']);
    let out: Awaited<ReturnType<typeof softnet>>;
    let d: Awaited<ReturnType<typeof stopCli>>;
    try {
      await r.ready;
      out = await softnet(
        ['gen', '--dev', lab.b.host.dev, '--count', String(count), '--size', '128', '--src-ip', '10.2.0.2', '--dst-ip', '10.1.0.2', '--json'],
        lab.b.host.ns,
      );
      await idleSecond(r);
    } finally {
      d = await stopCli(r);
    }
    expect(out.code, out.stderr).toBe(0);
    const refused: number = JSON.parse(out.stdout).refused;
    expect(refused).toBeGreaterThanOrEqual(0);
    const j = JSON.parse(d.stdout);
    // A burst at several Mpps can overrun a copy-mode socket's rings: count what the kernel
    // dropped before softnet saw it, and what the sending veth refused, so every frame is
    // accounted for.
    const lost = (j.stats.rx_dropped ?? 0) + (j.stats.rx_ring_full ?? 0);
    expect(j.packets + lost + refused).toBeGreaterThanOrEqual(count);
    expect(j.packets).toBeGreaterThan(0);
    expect(j.bytes / j.packets).toBeCloseTo(128, 0);
  });
});

describe('CLI errors', () => {
  it('unknown command: clear message, exit 2', async () => {
    const r = await softnet(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('bad flag values name the flag and the value, exit 2', async () => {
    let r = await softnet(['drop', '--dev', lab.a.dev, '--queue', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--queue: -1 is below the minimum 0');
    r = await softnet(['gen', '--dev', lab.a.dev, '--count', '1', '--dst-mac', '02:00:zz:00:00:01']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--dst-mac: '02:00:zz:00:00:01' is not a MAC address");
    r = await softnet(['drop', '--dev', lab.a.dev, '--mode', 'fast']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--mode: 'fast' is not one of");
    r = await softnet(['drop', '--dve', lab.a.dev]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--dve' (did you mean --dev?)");
  });

  it('unknown interface: names it, exit 1, no crash', async () => {
    for (const cmd of [['drop'], ['fwd'], ['gen', '--count', '1']]) {
      const r = await softnet([...cmd, '--dev', 'sndrop-none', ...(cmd[0] === 'gen' ? [] : ['--mode', 'xdp-drv'])]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('sndrop-none');
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});


describe('device removed under a running drop', () => {
  it('stops with an error naming the device instead of counting 0 rx/s forever', async () => {
    await labDown('gone');
    const l = await labUp({ name: 'gone' });
    try {
      const r = startCli(['drop', '--dev', l.a.dev, '--mode', 'xdp-drv', '--json']);
      await r.ready;
      await labDown('gone');
      // A deadline only: drop notices the missing device within its next reporting second.
      const t = setTimeout(() => process.kill(r.pid, 'SIGKILL'), 20_000);
      const out = await r.done;
      clearTimeout(t);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(`${l.a.dev}: the device disappeared`);
    } finally {
      await labDown('gone');
    }
  });
});

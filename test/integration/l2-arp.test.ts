// ARP against a kernel peer: a veth pair, softnet on the root end (AF_XDP, or TAP fallback via
// mode auto), the kernel in namespace sn-arp. Everything created here is removed in afterAll, also
// after failures.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch } from '../../src/core/batch.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { ARP_HLN, ARP_OP, ARP_PLN, ARP_PRO, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { ETH_HLEN, ETH_P_IPV6 } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { patched } from '../support/frames.ts';
import { inject } from '../support/kernel-peer.ts';
import { ifStat, Lab, macOf, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
let NS = ''; // the kernel peer's namespace
const HOST = 'snarp-s0'; // softnet's end, root namespace, no address
const PEER = 'snarp-p0'; // the kernel's end, in NS
const OURS = '10.44.0.1';
const THEIRS = '10.44.0.2';

/** Run in the peer namespace without blocking the event loop: softnet polls in this process. */
const inNs = (...args: string[]) => nsExec(NS, args, { timeoutMs: 60_000 });

/** The kernel peer's neighbour state for softnet's address ('' when none). */
function peerNeighState(): string {
  const out = run(null, 'ip', '-n', NS, '-j', 'neigh', 'show', OURS, 'dev', PEER);
  const rows = JSON.parse(out || '[]') as Array<{ state?: string[] }>;
  return rows[0]?.state?.join(',') ?? '';
}

let stack: Stack | null = null;

beforeAll(async () => {
  NS = lab.netns('arp');
  spawnSync('ip', ['link', 'del', HOST]); // a leftover of a killed run (our name only)
  run(null, 'ip', 'link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER);
  lab.track(HOST);
  run(null, 'ip', 'link', 'set', PEER, 'netns', NS);
  // No IPv6 on either end: no router solicitations or DAD in the captures and counters.
  run(null, 'sysctl', '-qw', `net.ipv6.conf.${HOST}.disable_ipv6=1`);
  run(NS, 'sysctl', '-qw', `net.ipv6.conf.${PEER}.disable_ipv6=1`);
  run(null, 'ip', '-n', NS, 'addr', 'add', `${THEIRS}/24`, 'dev', PEER);
  run(null, 'ip', '-n', NS, 'link', 'set', PEER, 'up');
  run(null, 'ip', 'link', 'set', HOST, 'up');
  stack = new Stack({ name: 'snarp', control: null });
  const info = await stack.addPort({ name: 'p0', dev: HOST, mode: 'auto', addresses: [`${OURS}/24`] });
  console.log(`l2-arp: port ${HOST} mode ${info.mode}: ${info.report.join('; ')}`);
  await stack.start();
}, 60_000);

afterAll(async () => {
  try {
    if (stack !== null) {
      const f = await stack.stop();
      expect(f.lost).toBe(0);
    }
  } finally {
    expect(lab.cleanup()).toEqual([]);
  }
});

describe('ARP with a kernel peer', () => {
  it('arping from the kernel gets replies with softnet\'s MAC, and softnet learns the peer', async () => {
    // -c with -w: arping waits for 3 replies (or the deadline), resending if one is lost.
    const r = await inNs('arping', '-c', '3', '-w', '20', '-I', PEER, OURS);
    expect(r.code, `arping: ${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/Received 3 response/);
    const mac = stack!.portInfo()[0].mac.toLowerCase();
    expect(r.stdout.toLowerCase()).toContain(mac);
    // The kernel's broadcast requests were for us: the sender is learned (STALE, like Linux).
    expect(stack!.l2.neigh.stateOf(0, parseIPv4(THEIRS))).toMatch(/STALE|REACHABLE|DELAY/);
    expect(stack!.l2.arp.mib.get('OutReplies')).toBeGreaterThanOrEqual(3);
  });

  it("the peer's neighbour entry for softnet's address becomes REACHABLE", async () => {
    spawnSync('ip', ['-n', NS, 'neigh', 'flush', 'dev', PEER]);
    // Any IPv4 packet to softnet makes the kernel resolve it (whether or not it is answered).
    await inNs('bash', '-c', `echo hello > /dev/udp/${OURS}/9`);
    await waitFor("the peer's entry for softnet to become REACHABLE", () => peerNeighState().includes('REACHABLE'), { detail: peerNeighState });
  });

  it('softnet resolves the peer itself: request on the wire, kernel reply, queued packet delivered', async () => {
    const s = stack!;
    s.l2.neigh.flush();
    const rx0 = ifStat(NS, PEER, 'rx_packets');
    // A UDP datagram from softnet to the peer, handed to neigh-output between poll rounds.
    // (neigh-output writes the Ethernet header over the builder's.)
    const f = buildFrame({ ip: { src: OURS, dst: THEIRS, id: 0, df: true }, udp: { sport: 12345, dport: 9 } });
    const a = s.pool.alloc();
    s.pool.umem.u8.set(f, a);
    const b = new Batch(1);
    const i = b.push(a, f.length, 0);
    b.l3[i] = ETH_HLEN;
    b.oif[i] = 0;
    s.graph.dispatch(b, s.graph.id('neigh-output'));
    expect(s.l2.neigh.stateOf(0, parseIPv4(THEIRS))).toBe('INCOMPLETE');
    await waitFor('softnet to resolve the peer', () => s.l2.neigh.stateOf(0, parseIPv4(THEIRS)) === 'REACHABLE', { detail: () => s.l2.neigh.stateOf(0, parseIPv4(THEIRS)) });
    expect(s.l2.neigh.queued(0, parseIPv4(THEIRS))).toBe(0);
    // At least our ARP request and the released datagram reach the kernel.
    const rx = () => ifStat(NS, PEER, 'rx_packets');
    await waitFor('the ARP request and the datagram to reach the peer', () => rx() - rx0 >= 2, { detail: () => `rx_packets +${rx() - rx0}` });
    const kernelNeigh = run(null, 'ip', '-n', NS, 'neigh', 'show', OURS);
    console.log(`l2-arp: kernel: ${kernelNeigh.trim()} | softnet: ${s.neigh().replace(/\n/g, ' | ')}`);
  });

  it('malformed ARP from the peer (raw socket) is dropped under its counter; ARP keeps working', async () => {
    const s = stack!;
    const mac = s.portInfo()[0].mac;
    // Sent from the peer's end on an AF_PACKET socket.
    const src = macOf(NS, PEER);
    const req = buildFrame({ dstMac: 'ff:ff:ff:ff:ff:ff', srcMac: src, arp: { op: ARPOP_REQUEST, spa: THEIRS, tpa: OURS } });
    const H = ETH_HLEN;
    const frames = [
      req.slice(0, H + 20),
      patched(req, H + ARP_HLN, 8),
      patched(req, H + ARP_PLN, 16),
      patched(req, H + ARP_OP, 9, 2),
      patched(req, H + ARP_PRO, ETH_P_IPV6, 2),
      buildFrame({ dstMac: 'ff:ff:ff:ff:ff:ff', srcMac: src, arp: { op: ARPOP_REQUEST, sha: '01:00:5e:00:00:01', spa: THEIRS, tpa: OURS } }),
    ];
    const drops = () => ['arp.truncated', 'arp.bad_hln', 'arp.bad_pln', 'arp.bad_op', 'arp.bad_pro', 'arp.bad_sha'].map((k) => s.graph.drops.get(k));
    const d0 = drops();
    expect(await inject(NS, PEER, frames)).toBe(frames.length);
    await waitFor('each malformed ARP to be counted', () => drops().every((x, j) => x - d0[j] >= 1), { detail: () => JSON.stringify(drops().map((x, j) => x - d0[j])) });
    expect(drops().map((x, j) => x - d0[j])).toEqual([1, 1, 1, 1, 1, 1]);
    const again = await inNs('arping', '-c', '1', '-w', '20', '-I', PEER, OURS);
    expect(again.stdout.toLowerCase()).toContain(mac.toLowerCase());
  });
});

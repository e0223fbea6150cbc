// The Stack wired over memory ports: no privileges, crafted frames in, frames out.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from '../../src/stack/stack.ts';
import type { Stage } from '../../src/core/graph.ts';
import { XDP_DROP } from '../../src/core/xdp.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { parseConfig } from '../../src/config/load.ts';
import { controlRequest } from '../../src/stack/control-socket.ts';
import { formatRuntime, formatStats } from '../../src/cli/stat.ts';
import { ARP_OP, ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { ICMP_ECHO, ICMP_ECHOREPLY, icmpCsumOk, icmpType } from '../../src/wire/icmp.ts';
import { IPPROTO_ICMP, IPV4_HLEN, IPV4_OK, ipProto, ipv4Check } from '../../src/wire/ipv4.ts';
import { waitFor } from '../support/wait.ts';

const PEER = [0x02, 0, 0, 0, 0, 0x99];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** A broadcast ARP request from the peer (padded to 60 bytes). */
const arpRequest = (spa: string, tpa: string) => buildFrame({ dstMac: BCAST, srcMac: PEER, arp: { op: ARPOP_REQUEST, spa, tpa }, payload: 18 });

/** Ethernet + IPv4 + ICMP echo request from 10.1.0.2 to dst. */
const echoRequest = (dst: string, payload = 56, ttl = 64) =>
  buildFrame({ dstMac: '02:00:00:00:01:00', srcMac: PEER, ip: { src: '10.1.0.2', dst, ttl, id: 1, df: true }, icmp: { type: ICMP_ECHO, rest: 0x12340001 }, payload });

/** Frames p transmits, collected until there are at least n (the stack polls on its own loop). */
async function txUntil(p: MemoryPort, n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  await waitFor(`${n} transmitted frame(s)`, () => (out.push(...p.takeTx()), out.length >= n), { everyMs: 5 });
  return out;
}
let stacks: Stack[] = [];
afterEach(async () => {
  for (const s of stacks) await s.stop();
  stacks = [];
});

async function memStack(extra = ''): Promise<Stack> {
  const cfg = parseConfig(`
name: m1
ports:
  - {name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24], vlans: [{id: 100, addresses: [10.100.0.1/24]}]}
  - {name: p1, dev: mem1, mode: memory, addresses: [10.2.0.1/24]}
${extra}`);
  const s = await Stack.fromConfig(cfg, { control: null });
  stacks.push(s);
  return s;
}

describe('Stack over memory ports', () => {
  it('wires the graph in order and answers ARP for its address', async () => {
    const s = await memStack();
    await s.start();
    const names = s.graph.stages.map((x) => x.name);
    expect(names[0]).toBe('xdp');
    expect(names[1]).toBe('eth-input');
    expect(names.at(-1)).toBe('dev-xmit');
    expect(names).toContain('arp-rcv');
    const p0 = s.port('p0') as MemoryPort;
    p0.inject(arpRequest('10.1.0.2', '10.1.0.1'));
    const out = await txUntil(p0, 1);
    expect(out.length).toBe(1);
    expect(new DataView(out[0].buffer).getUint16(ETH_HLEN + ARP_OP)).toBe(ARPOP_REPLY);
    expect(s.neigh()).toMatch(/10\.1\.0\.2 dev p0 lladdr 02:00:00:00:00:99/);
    const st = s.stats();
    expect(st.softnet[0]).toMatchObject({ queue: 'p0/0', processed: 1 });
    expect(st.ports.p0.rx_packets).toBe(1);
    expect(st.ports['p0.100']).toMatchObject({ parent: 'p0', vlan: 100 });
    expect(s.runtime().rows.find((r) => r.name === 'arp-rcv')?.packets).toBe(1);
    const text = formatStats(st);
    expect(text).toMatch(/p0\/0\s+1\s+0\s+0/);
    expect(text).toContain('  p0: mem0 queue 0 memory state UP\n       rx_packets: 1');
    expect(text).toContain('  p0.100: vlan 100 on p0');
    expect(formatRuntime(s.runtime())).toMatch(/arp-rcv\s+1\s+1\s+1\.0/);
    expect(s.frames().lost).toBe(0);
    const acct = await s.stop();
    expect(acct.free).toBe(acct.total);
  });

  it('answers ping (ICMP echo) after learning the peer by ARP', async () => {
    const s = await memStack();
    await s.start();
    const p0 = s.port('p0') as MemoryPort;
    p0.inject(arpRequest('10.1.0.2', '10.1.0.1'));
    await txUntil(p0, 1);
    for (const size of [0, 56, 1000, 1472]) p0.inject(echoRequest('10.1.0.1', size));
    const out = await txUntil(p0, 4);
    expect(out.map((f) => f.length)).toEqual([42, 98, 1042, 1514]);
    for (const f of out) {
      const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
      const l4 = ETH_HLEN + IPV4_HLEN;
      expect(ipv4Check(dv, ETH_HLEN, f.length - ETH_HLEN)).toBe(IPV4_OK);
      expect(ipProto(f, ETH_HLEN)).toBe(IPPROTO_ICMP);
      expect(icmpType(f, l4)).toBe(ICMP_ECHOREPLY);
      expect(icmpCsumOk(dv, l4, f.length - l4)).toBe(true);
    }
    expect(s.stats().mib.Icmp.OutEchoReps).toBe(4);
    expect(s.frames().lost).toBe(0);
  });

  it('library API: a custom ptype handler stage and an XDP filter', async () => {
    const s = await memStack();
    let seen = 0;
    const stage: Stage = {
      name: 'my-proto',
      run(b, v, n) {
        for (let j = 0; j < n; j++) {
          seen++;
          s.pool.free(b.addr[v[j]]);
        }
      },
    };
    s.addStage(stage);
    s.addPtype(0x88b5, 'my-proto');
    expect(() => s.addPtype(0x88b6, 'nope')).toThrow(/no stage named nope/);
    await s.start();
    const p0 = s.port('p0') as MemoryPort;
    const frame = buildFrame({ dstMac: '02:00:00:00:01:00', srcMac: PEER, type: 0x88b5, size: 60 });
    p0.inject(frame);
    await waitFor('the frame to reach the stage', () => seen >= 1);
    expect(seen).toBe(1);
    let filtered = 0;
    await s.attachXdp('p0', () => {
      filtered++;
      return XDP_DROP;
    });
    p0.inject(frame);
    await waitFor('the filter to see the frame', () => filtered >= 1);
    expect(filtered).toBe(1);
    expect(seen).toBe(1);
    expect(s.stats().ports.p0.xdp_drop).toBe(1);
    s.detachXdp('p0');
    p0.inject(frame);
    await waitFor('the frame to reach the stage again', () => seen >= 2);
    expect(seen).toBe(2);
    expect(s.frames().lost).toBe(0);
  });

  it('routes: add, show, get, del, errors name the word', async () => {
    const s = await memStack('routes: ["10.3.0.0/16 via 10.2.0.2", "blackhole 192.0.2.0/24"]');
    const show = s.route('show');
    expect(show).toContain('10.3.0.0/16 via 10.2.0.2');
    expect(show).toContain('blackhole 192.0.2.0/24');
    s.route('add default via 10.1.0.254 dev p0 metric 10');
    expect(s.route('get 8.8.8.8')).toContain('via 10.1.0.254 dev p0');
    s.route('del 10.3.0.0/16');
    expect(s.route('show')).not.toContain('10.3.0.0/16');
    expect(() => s.route('add 10.4.0.0/16 bogus 1')).toThrow(/"bogus"/);
    expect(() => s.route('frob')).toThrow(/"frob" is unknown/);
  });

  it('a bad route, rule or sysctl in the config names its path', async () => {
    await expect(memStack('routes: ["10.3.0.0/16 via nowhere"]')).rejects.toThrow(/routes\[0\]: .*nowhere/);
    await expect(memStack('netfilter: ["-A FORWARD -p udp --dportt 53 -j DROP"]')).rejects.toThrow(/netfilter\[0\]: .*--dportt/);
    await expect(memStack('sysctl: {ip_forwardd: 1}')).rejects.toThrow(/sysctl\.ip_forwardd: .*unknown/);
    const s = await memStack('sysctl: {ip_forward: 0, net.ipv4.icmp_ratelimit: 250}');
    expect(s.sysctl('ip_forward')).toBe(0);
    expect(s.sysctl('net.ipv4.icmp_ratelimit')).toBe(250);
    expect(s.sysctl('net/ipv4/icmp_ratelimit')).toBe(250); // the /proc/sys spelling
  });

  it('serves stat, runtime, route and capture on the control socket; bad requests do not disturb it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sn-stack-'));
    const path = join(dir, 'm1.sock');
    const s = await Stack.fromConfig(parseConfig('name: m1\nports: [{name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}]'), { control: path });
    stacks.push(s);
    await s.start();
    const p0 = s.port('p0') as MemoryPort;
    const frames: unknown[] = [];
    const cap = controlRequest(path, 'capture', { count: 3 }, { onEvent: (e) => frames.push(...(e as { frames: unknown[] }).frames) });
    await waitFor('the capture to be tapped in', () => s.taps.count > 0);
    for (let i = 0; i < 5; i++) p0.inject(arpRequest(`10.1.0.${2 + i}`, '10.1.0.1'));
    expect(await cap).toEqual({ packets: 3, dropped: 0 });
    expect(frames.length).toBe(3);
    await expect(controlRequest(path, 'route', { cmd: 'add 10.9.0.0/16 via bad' })).rejects.toThrow(/bad/);
    await expect(controlRequest(path, 'route', {})).rejects.toThrow(/"cmd" must be a string/);
    await controlRequest(path, 'route', { cmd: 'add 10.9.0.0/16 via 10.1.0.9' });
    expect(((await controlRequest(path, 'route', { cmd: 'show' })) as { output: string }).output).toContain('10.9.0.0/16 via 10.1.0.9');
    const st = (await controlRequest(path, 'stat')) as { softnet: Array<{ processed: number }> };
    expect(st.softnet[0].processed).toBe(5);
    const rt = (await controlRequest(path, 'runtime')) as { rows: Array<{ name: string; packets: number }> };
    expect(rt.rows.find((r) => r.name === 'eth-input')?.packets).toBe(5);
    await s.stop();
    await expect(controlRequest(path, 'stat')).rejects.toThrow(/no softnet stack is running/);
  });

  it('a capture the client stops (Ctrl-C) still delivers every frame tapped before, and its count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sn-stack-'));
    const path = join(dir, 'm2.sock');
    const s = await Stack.fromConfig(parseConfig('name: m2\nports: [{name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}]'), { control: path });
    stacks.push(s);
    await s.start();
    const p0 = s.port('p0') as MemoryPort;
    const frames: unknown[] = [];
    const ac = new AbortController();
    const cap = controlRequest(path, 'capture', {}, { timeoutMs: 0, signal: ac.signal, onEvent: (e) => frames.push(...(e as { frames: unknown[] }).frames) });
    await waitFor('the capture to be tapped in', () => s.taps.count > 0);
    const processed = () => s.stats().softnet[0].processed;
    for (let i = 0; i < 5; i++) p0.inject(arpRequest(`10.1.0.${2 + i}`, '10.1.0.1'));
    await waitFor('the stack to process (and tap) the 5 frames', () => processed() >= 5);
    // Stopped inside the capture's flush interval: the frames are still queued in the stack.
    ac.abort();
    expect(await cap).toEqual({ packets: 5, dropped: 0 });
    expect(frames.length).toBe(5);
    await waitFor('the capture to be removed', () => s.taps.count === 0);
  });
});

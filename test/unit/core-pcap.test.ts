import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XDP_TX } from '../../src/core/xdp.ts';
import { PcapWriter, pcapTap, readPcap } from '../../src/tools/pcap.ts';
import { Sink, stack, synFrame, udpFrame } from '../support/core-graph.ts';

const dir = mkdtempSync(join(tmpdir(), 'sn-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tcpdumpCount(file: string): number {
  const out = execFileSync('tcpdump', ['-n', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l.length > 0).length;
}

describe('taps and pcap', () => {
  it('a tap sees every received frame before XDP; tcpdump reads the file back', () => {
    const s = stack();
    const sink = new Sink('ip-rcv');
    s.graph.add(sink);
    s.ptype.add(0x0800, 'ip-rcv');
    s.a.peer = null;
    const file = join(dir, 'rx.pcap');
    // A small buffer forces several flushes mid-capture.
    const w = new PcapWriter(file, { bufferSize: 4096 });
    const remove = s.taps.add(pcapTap(w, { tx: true }));
    s.xdp.attach(0, (ctx) => (ctx.l4Dport() === 7777 ? XDP_TX : 1 /* drop the rest */));
    s.napi.start();
    const frames: Uint8Array[] = [];
    for (let k = 0; k < 500; k++) frames.push(k % 2 ? udpFrame(k % 100) : synFrame(`10.1.${k >> 8}.${k & 255}`));
    frames.push(udpFrame(7777));
    for (const f of frames) s.a.inject(f);
    while (s.a.pending() > 0) s.napi.kick();
    w.close();
    // 501 received (XDP dropped most: the tap still saw them) + 1 transmitted (XDP_TX).
    const r = readPcap(file);
    expect(r.linktype).toBe(1);
    expect(r.packets.length).toBe(502);
    expect(Buffer.from(r.packets[0].data).equals(Buffer.from(frames[0]))).toBe(true);
    expect(r.packets.every((p) => p.data.length === p.origLen)).toBe(true);
    const now = Date.now() / 1000;
    expect(Math.abs(r.packets[0].sec - now)).toBeLessThan(60);
    expect(tcpdumpCount(file)).toBe(502);
    remove();
    expect(s.taps.count).toBe(0);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('snaplen cuts records and keeps the original length', () => {
    const file = join(dir, 'snap.pcap');
    const w = new PcapWriter(file, { snaplen: 20 });
    const f = udpFrame(53);
    for (let k = 0; k < 3; k++) w.write(f, 0, f.length, 1_700_000_000, k);
    w.close();
    const r = readPcap(file);
    expect(r.snaplen).toBe(20);
    expect(r.packets.map((p) => [p.data.length, p.origLen, p.usec])).toEqual([
      [20, f.length, 0],
      [20, f.length, 1],
      [20, f.length, 2],
    ]);
    expect(tcpdumpCount(file)).toBe(3);
    expect(() => new PcapWriter(join(dir, 'no/such/dir.pcap'))).toThrow(/ENOENT/);
  });
});

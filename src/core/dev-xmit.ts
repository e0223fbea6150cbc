import type { Port } from '../driver/port.ts';
import * as ethernet from '../wire/ethernet.ts';
import type { Batch } from './batch.ts';
import type { Graph, Stage } from './graph.ts';
import type { NetDevices } from './netdev.ts';
import type { Taps } from './taps.ts';
// Hot path: wire's bindings as module-local consts (src/wire/README.md, "On the hot path").
const { ETH_HLEN, ETH_P_8021Q, ETH_TYPE, VLAN_HLEN, VLAN_TCI, VLAN_VID_MASK } = ethernet;

/**
 * Stage `dev-xmit` (dev_queue_xmit): b.oif -> device -> port. The frame sent starts at
 * b.addr + b.l3 - 14 when b.l3 > 14 (the Ethernet header written in front of the IP header,
 * which stays where it was received), else at b.addr (b.l3 = 0: a raw frame, e.g. XDP_TX).
 * A VLAN sub-interface gets its 802.1Q tag inserted into the headroom. Descriptors collect per
 * port and go out in one port.tx() per port in flush(); frames the port refuses go back to the
 * pool as `dev.tx_dropped`.
 */
export class DevXmit implements Stage {
  readonly name = 'dev-xmit';
  /** Per device: frames and bytes handed to the port (before tx refusals). */
  txPackets = new Float64Array(256);
  txBytes = new Float64Array(256);

  private g!: Graph;
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private frameMask = 0;
  private rDropped = 0;
  private rErrors = 0;
  private ports: Port[] = [];
  private txN = new Int32Array(0);
  /** device index -> slot in ports[], -1 when unknown. */
  private readonly slot = new Int16Array(256).fill(-1);
  private known = -1;

  constructor(
    readonly devs: NetDevices,
    readonly taps: Taps | null = null,
  ) {}

  init(g: Graph): void {
    this.g = g;
    this.u8 = g.pool.umem.u8;
    this.dv = g.pool.umem.dv;
    this.frameMask = g.pool.umem.frameSize - 1;
    this.rDropped = g.reason('dev.tx_dropped');
    // Kernel: tx_errors; here a bad oif, a frame too short or no headroom for a VLAN tag.
    this.rErrors = g.reason('dev.tx_errors');
    this.refresh();
  }

  run(b: Batch, v: Uint16Array, n: number): void {
    const list = this.devs.list;
    if (list.length !== this.known) this.refresh();
    const tapping = this.taps !== null && this.taps.count > 0;
    if (tapping) this.taps!.stamp();
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const o = b.oif[i];
      const s = o < list.length ? this.slot[o] : -1;
      let a = b.addr[i];
      let len = b.len[i];
      const l3 = b.l3[i];
      if (l3 > ETH_HLEN) {
        a += l3 - ETH_HLEN;
        len -= l3 - ETH_HLEN;
      }
      if (s < 0 || len < ETH_HLEN || !list[o].up) {
        this.g.drop(b, i, this.rErrors);
        continue;
      }
      const vid = list[o].vlanId;
      if (vid !== 0) {
        if ((a & this.frameMask) < VLAN_HLEN) {
          this.g.drop(b, i, this.rErrors);
          continue;
        }
        a = this.tag(a, vid);
        len += VLAN_HLEN;
      }
      const port = this.ports[s];
      let k = this.txN[s];
      port.txAddr[k] = a;
      port.txLen[k] = len;
      this.txN[s] = ++k;
      this.txPackets[o]++;
      this.txBytes[o] += len;
      if (tapping) this.taps!.txFrame(this.u8, a, len, list[o].parent);
      if (k === port.batchSize) this.flushPort(s);
    }
  }

  flush(): void {
    for (let s = 0; s < this.ports.length; s++) if (this.txN[s] > 0) this.flushPort(s);
  }

  private flushPort(s: number): void {
    const port = this.ports[s];
    const k = this.txN[s];
    this.txN[s] = 0;
    const sent = port.tx(k);
    for (let j = sent; j < k; j++) {
      this.g.drops.v[this.rDropped]++;
      this.g.pool.free(port.txAddr[j]);
    }
  }

  /**
   * Insert an 802.1Q tag: move the two MACs VLAN_HLEN bytes back into the headroom; the old
   * EtherType becomes the tag's encapsulated type where it is. Returns the new start.
   */
  private tag(a: number, vid: number): number {
    const dv = this.dv;
    const t = a - VLAN_HLEN;
    // The two MACs (the ETH_TYPE bytes before the EtherType) move as three 32-bit words, in
    // ascending order: each word is read before it is overwritten.
    dv.setUint32(t, dv.getUint32(a));
    dv.setUint32(t + 4, dv.getUint32(a + 4));
    dv.setUint32(t + 8, dv.getUint32(a + 8));
    dv.setUint16(t + ETH_TYPE, ETH_P_8021Q);
    dv.setUint16(t + VLAN_TCI, vid & VLAN_VID_MASK);
    return t;
  }

  private refresh(): void {
    const list = this.devs.list;
    const ports: Port[] = [];
    for (let d = 0; d < list.length; d++) {
      const p = list[d].port;
      let s = ports.indexOf(p);
      if (s < 0) s = ports.push(p) - 1;
      this.slot[d] = s;
    }
    // Pending descriptors belong to the old slots: send them before renumbering.
    if (this.ports.length > 0) this.flush();
    this.ports = ports;
    this.txN = new Int32Array(ports.length);
    this.known = list.length;
  }
}

/**
 * Multicast group memberships per device (igmp.c's ip_mc_inc_group / ip_mc_dec_group /
 * ip_check_mc_rcu, in_device->mc_list): sockets join groups (a count per (device, group)); route
 * input delivers a multicast datagram locally when its device has joined the group. No IGMP
 * reports or queries are sent or answered (a switch with IGMP snooping would not forward the
 * group); 224.0.0.1 is not joined implicitly.
 */
import { grown } from '../core/grow.ts';

export class McList {
  private dev = new Int32Array(8);
  private group = new Uint32Array(8);
  private refs = new Int32Array(8);
  private n = 0;

  /** ip_mc_inc_group: one more member of group on device dev. */
  join(dev: number, group: number): void {
    group >>>= 0;
    const k = this.find(dev, group);
    if (k >= 0) {
      this.refs[k]++;
      return;
    }
    if (this.n === this.dev.length) this.grow();
    this.dev[this.n] = dev;
    this.group[this.n] = group;
    this.refs[this.n] = 1;
    this.n++;
  }

  /** ip_mc_dec_group: one member fewer; the last one leaves the group. */
  leave(dev: number, group: number): void {
    const k = this.find(dev, group >>> 0);
    if (k < 0 || --this.refs[k] > 0) return;
    const last = --this.n;
    this.dev[k] = this.dev[last];
    this.group[k] = this.group[last];
    this.refs[k] = this.refs[last];
  }

  /** ip_check_mc_rcu: has device dev joined group? (Per multicast packet: a scan of a short list.) */
  has(dev: number, group: number): boolean {
    return this.find(dev, group >>> 0) >= 0;
  }

  /** Memberships as `ip maddr` lists them: device index, group, members. */
  list(): Array<{ dev: number; group: number; users: number }> {
    const out = [];
    for (let k = 0; k < this.n; k++) out.push({ dev: this.dev[k], group: this.group[k], users: this.refs[k] });
    return out;
  }

  private find(dev: number, group: number): number {
    for (let k = 0; k < this.n; k++) if (this.group[k] === group && this.dev[k] === dev) return k;
    return -1;
  }

  private grow(): void {
    const m = this.dev.length * 2;
    this.dev = grown(this.dev, m);
    this.group = grown(this.group, m);
    this.refs = grown(this.refs, m);
  }
}

/** 224.0.0.0/4. */
export function isMulticast(a: number): boolean {
  return a >>> 28 === 0xe;
}

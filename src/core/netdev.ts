import { IF_OPER_LOWERLAYERDOWN, IF_OPER_UP } from '../driver/link.ts';
import type { Port } from '../driver/port.ts';

/**
 * `struct net_device` for the stack: a port (one device queue) or a VLAN sub-interface of one.
 * Packets carry the device index in Batch.iif / Batch.oif. Addresses live here too (the kernel
 * keeps them in in_device) so ARP can answer for them without importing the IPv4 layer.
 */
export interface NetDevice {
  /** Index in NetDevices.list, the value of Batch.iif/oif. */
  readonly index: number;
  readonly name: string;
  /** The port frames of this device are received on and sent through. */
  readonly port: Port;
  /** Index of the port's own device (itself unless a VLAN sub-interface). */
  readonly parent: number;
  /** 802.1Q VLAN id, 0 for the port device itself. */
  readonly vlanId: number;
  readonly mac: Uint8Array;
  mtu: number;
  /** IPv4 addresses (host order) and their prefix lengths. */
  addrs: Array<{ addr: number; prefixLen: number }>;
  /** Traffic may flow (admin up and carrier): receive and transmit check it per batch. */
  up: boolean;
  /** IF_OPER_* (driver/link.ts) as `ip link` shows it: UP, DOWN, LOWERLAYERDOWN, NOTPRESENT... */
  operstate: number;
}

export class NetDevices {
  readonly list: NetDevice[] = [];
  private readonly byName = new Map<string, NetDevice>();
  /** (parent index << 12 | vlan id) -> sub-interface index, for VLAN untagging. */
  private readonly vlans = new Map<number, number>();

  addPort(name: string, port: Port, mtu = 1500): NetDevice {
    this.checkName(name);
    const index = this.list.length;
    if (index > 255) throw new Error('netdev: at most 256 devices (Batch.iif is 8 bits)');
    const dev: NetDevice = { index, name, port, parent: index, vlanId: 0, mac: port.mac, mtu, addrs: [], up: true, operstate: IF_OPER_UP };
    this.list.push(dev);
    this.byName.set(name, dev);
    return dev;
  }

  addVlan(parentName: string, vlanId: number, name = `${parentName}.${vlanId}`): NetDevice {
    const parent = this.get(parentName);
    if (parent.vlanId !== 0) throw new Error(`netdev: ${parentName} is a VLAN already (no QinQ)`);
    if (!Number.isInteger(vlanId) || vlanId < 1 || vlanId > 4094) throw new Error(`netdev: VLAN id ${vlanId} is not in 1..4094`);
    this.checkName(name);
    const index = this.list.length;
    if (index > 255) throw new Error('netdev: at most 256 devices (Batch.iif is 8 bits)');
    const dev: NetDevice = {
      index,
      name,
      port: parent.port,
      parent: parent.index,
      vlanId,
      mac: parent.mac,
      mtu: parent.mtu,
      addrs: [],
      up: parent.up,
      operstate: parent.up ? IF_OPER_UP : IF_OPER_LOWERLAYERDOWN,
    };
    this.list.push(dev);
    this.byName.set(name, dev);
    this.vlans.set((parent.index << 12) | vlanId, index);
    return dev;
  }

  /**
   * A port device's link state changed: it and its VLAN sub-interfaces follow (a VLAN of a down
   * port is LOWERLAYERDOWN, as Linux's linkwatch makes it). Returns the indexes that changed `up`.
   */
  setLink(portIndex: number, up: boolean, operstate: number): number[] {
    const changed: number[] = [];
    for (const d of this.list) {
      if (d.parent !== portIndex) continue;
      if (d.up !== up) changed.push(d.index);
      d.up = up;
      d.operstate = d.vlanId === 0 ? operstate : up ? IF_OPER_UP : IF_OPER_LOWERLAYERDOWN;
    }
    return changed;
  }

  get(name: string): NetDevice {
    const d = this.byName.get(name);
    if (d === undefined) throw new Error(`netdev: no device named ${name} (have: ${[...this.byName.keys()].join(', ') || 'none'})`);
    return d;
  }

  find(name: string): NetDevice | undefined {
    return this.byName.get(name);
  }

  /** Sub-interface index for a tag received on a port device, or -1. */
  vlanIndex(parent: number, vlanId: number): number {
    const i = this.vlans.get((parent << 12) | vlanId);
    return i === undefined ? -1 : i;
  }

  private checkName(name: string): void {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`netdev: bad device name "${name}" (1-15 of A-Z a-z 0-9 _ . -)`);
    if (this.byName.has(name)) throw new Error(`netdev: a device named ${name} exists already`);
  }
}

import { ETH_P_8021Q } from '../wire/ethernet.ts';
import type { Graph } from './graph.ts';

/**
 * ptype_base: EtherType -> handler stage. Layers register themselves the way inet_init calls
 * dev_add_pack (`ptype.add(ETH_P_IP, 'ip-rcv')`). Names are kept so registration may happen
 * before the handler stage is added to the graph; ids are resolved when the graph is sealed
 * (or at once when it already is). Lookup on the hot path is one typed-array read.
 */
export class PtypeTable {
  /** EtherType -> stage id, -1 when no handler. */
  readonly ids = new Int32Array(65536).fill(-1);
  private readonly names = new Map<number, string>();
  private graph: Graph | null = null;

  add(ethertype: number, stageName: string): void {
    checkType(ethertype);
    if (ethertype === ETH_P_8021Q) throw new Error('ptype: 0x8100 (802.1Q) is handled by eth-input itself (VLAN sub-interfaces)');
    const had = this.names.get(ethertype);
    if (had !== undefined && had !== stageName) {
      throw new Error(`ptype: EtherType 0x${hex(ethertype)} is handled by ${had} already; remove it first`);
    }
    this.names.set(ethertype, stageName);
    if (this.graph !== null && this.graph.has(stageName)) this.ids[ethertype] = this.graph.id(stageName);
  }

  remove(ethertype: number): boolean {
    checkType(ethertype);
    this.ids[ethertype] = -1;
    return this.names.delete(ethertype);
  }

  /** Handler stage name for an EtherType, if any. */
  get(ethertype: number): string | undefined {
    return this.names.get(ethertype);
  }

  entries(): Array<{ ethertype: number; stage: string }> {
    return [...this.names].map(([ethertype, stage]) => ({ ethertype, stage }));
  }

  /** Resolve every name against the graph (called from eth-input's init at seal time). */
  bind(g: Graph): void {
    this.graph = g;
    this.ids.fill(-1);
    for (const [t, name] of this.names) {
      // A handler registered for a stage that was never added is a wiring bug: say which.
      if (!g.has(name)) throw new Error(`ptype: EtherType 0x${hex(t)} is registered to stage ${name}, which is not in the graph`);
      this.ids[t] = g.id(name);
    }
  }
}

function checkType(t: number): void {
  if (!Number.isInteger(t) || t < 0x600 || t > 0xffff) throw new Error(`ptype: ${t} is not an EtherType (0x0600..0xffff)`);
}

function hex(t: number): string {
  return t.toString(16).padStart(4, '0');
}

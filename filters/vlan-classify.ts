// Example XDP filter: classify frames by VLAN (a constant table) and drop what a class may not
// send: the quarantine VLAN entirely, user VLANs to management ports. Frames per class are
// counted in a per-CPU array (classes.get(CLS_USER) sums the CPUs).
// Use: xdp: {module: ./filters/vlan-classify.ts, offload: auto}
import { XDP_DROP, XDP_PASS, defineMap, type XdpContext } from 'softnet/xdp';

export const CLS_UNTAGGED = 0;
export const CLS_USER = 1;
export const CLS_SERVER = 2;
export const CLS_QUARANTINE = 3;

const VLANS = new Uint16Array([10, 11, 20, 666]);
const VLAN_CLASS = new Uint8Array([CLS_USER, CLS_USER, CLS_SERVER, CLS_QUARANTINE]);
/** ssh, telnet, snmp, rdp. */
const MGMT_PORTS = new Uint16Array([22, 23, 161, 3389]);

export const classes = defineMap({ type: 'percpu_array', key: 'u32', value: 'u32', maxEntries: 4 });

function classOf(vid: number): number {
  if (vid < 0) return CLS_UNTAGGED;
  for (let i = 0; i < VLANS.length; i++) if (VLANS[i] === vid) return VLAN_CLASS[i];
  return CLS_QUARANTINE; // an unknown VLAN is not trusted
}

function toMgmt(port: number): boolean {
  for (const p of MGMT_PORTS) if (p === port) return true;
  return false;
}

export default (ctx: XdpContext): number => {
  const cls = classOf(ctx.vlanId());
  classes.set(cls, classes.get(cls) + 1);
  if (cls === CLS_QUARANTINE) return XDP_DROP;
  if (cls === CLS_USER && toMgmt(ctx.l4Dport())) return XDP_DROP;
  return XDP_PASS;
};

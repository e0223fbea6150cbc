/**
 * The Stack's link glue (the kernel's netdevice notifier chain: fib_netdev_event, neigh_ifdown,
 * linkwatch): rtnetlink link events decide whether each port's device can carry traffic.
 *
 * - down: admin down (no IFF_UP), carrier lost (no IFF_LOWER_UP / operstate LOWERLAYERDOWN),
 *   dormant, or the device deleted (or moved out of our namespace). The port and its VLANs are
 *   marked down (receive drops, dev-xmit sends nothing), its unicast routes are skipped by the
 *   FIB (Fib.setLinkDown: the lookup table is rewritten now, not checked per packet), its
 *   neighbour entries are flushed (queued frames return to the pool). A deleted device's socket
 *   is closed at once (Port.suspend): it would report errors, and its frames come back.
 * - up: the same device (ifindex) regains IFF_UP and carrier; or a device of the port's name
 *   appears (re-created: a new ifindex): the port re-opens its socket/TAP on the same UMEM
 *   (Port.reopen; EBUSY retried there) and, once the link is up, its routes are used again.
 * Each change is one log line naming the port, its device and the reason.
 * Control plane only: runs on link events, never per packet.
 */
import type { NetDevice, NetDevices } from '../core/netdev.ts';
import { IF_OPER_NOTPRESENT, IF_OPER_UNKNOWN, linkDump, LinkMonitor, linkState, OPER_NAMES, type LinkEvent, type LinkState } from '../driver/link.ts';
import type { Port } from '../driver/port.ts';

/** A port that can close its socket while its device is gone and open it again (XskPort, TapPort). */
interface Reattachable extends Port {
  suspend(): void;
  reopen(): void;
  readonly isSuspended: boolean;
}

function reattachable(p: Port): p is Reattachable {
  const r = p as Partial<Reattachable>;
  return typeof r.suspend === 'function' && typeof r.reopen === 'function';
}

/** What LinkWatch needs from the stack. */
export interface LinkHost {
  readonly devs: NetDevices;
  /** Fib.setLinkDown; `why` is the reason it went down (LinkState.down: 'admin down', 'carrier lost'...), null when up. */
  setLinkDown(devIndex: number, down: boolean, why: string | null): void;
  /** Flush the (non-permanent) neighbour entries of a device. */
  flushNeigh(devIndex: number): void;
  log(line: string): void;
}

export class LinkWatch {
  private mon: LinkMonitor | null = null;
  /** Per device index: carrier_up_count / carrier_down_count (as /sys/class/net/DEV/). */
  readonly upCount = new Float64Array(256);
  readonly downCount = new Float64Array(256);
  /**
   * TAP ports moved to another namespace: the fd stays attached and traffic flows, we just no
   * longer see the device (the tap demo moves its TAPs into the hosts). An AF_XDP socket, in
   * contrast, is unbound by the move: for it a move is a deletion.
   */
  private readonly movedAway = new Set<number>();

  constructor(private readonly host: LinkHost) {}

  /** Listen, then read the current state of every port's device. */
  start(): void {
    if (this.mon !== null) return;
    this.mon = new LinkMonitor((evs) => this.onEvents(evs));
    this.resync();
  }

  stop(): void {
    this.mon?.close();
    this.mon = null;
  }

  /** Re-read every link (start, after an overrun, after a port was added). */
  resync(): void {
    let all: LinkEvent[];
    try {
      all = linkDump();
    } catch (e) {
      this.host.log(`link: cannot read the link table: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    for (const d of this.ports()) {
      if (this.movedAway.has(d.index)) continue;
      const port = d.port;
      const suspended = reattachable(port) && port.isSuspended;
      const same = suspended ? undefined : all.find((e) => e.ifindex === port.ifindex);
      if (same !== undefined) {
        this.setState(d, linkState(same));
        continue;
      }
      const byName = all.find((e) => e.name === port.dev);
      if (byName !== undefined) this.reattach(d, byName);
      else this.deleted(d);
    }
  }

  private onEvents(evs: LinkEvent[]): void {
    try {
      for (const e of evs) {
        if (e.event === 'overrun') {
          this.resync();
          continue;
        }
        for (const d of this.ports()) this.apply(d, e);
      }
    } catch (err) {
      // A bug here must not take the router down with it: log, keep listening.
      this.host.log(`link: event handling failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  private apply(d: NetDevice, e: LinkEvent): void {
    const port = d.port;
    const suspended = reattachable(port) && port.isSuspended;
    if (this.movedAway.has(d.index)) return;
    if (!suspended && e.ifindex === port.ifindex) {
      if (e.event === 'del' && e.moved && port.mode === 'tap') {
        this.movedAway.add(d.index);
        // The kernel closes a device before moving it (the "admin down" just seen): the TAP fd
        // still works from here, and its new namespace decides its state; assume it carries.
        this.setState(d, { operstate: IF_OPER_UNKNOWN, down: null }, false);
        this.host.log(`${this.label(d)}: moved to another network namespace; the TAP stays attached (state UNKNOWN from here on)`);
      } else if (e.event === 'del') this.deleted(d);
      else this.setState(d, linkState(e));
    } else if (e.event === 'new' && e.name === port.dev && (suspended || e.ifindex !== port.ifindex)) {
      this.reattach(d, e);
    }
  }

  /** Port devices with a real device behind them. */
  private ports(): NetDevice[] {
    return this.host.devs.list.filter((d) => d.vlanId === 0 && d.port.mode !== 'memory');
  }

  private label(d: NetDevice): string {
    return `port ${d.name} (${d.port.dev})`;
  }

  private deleted(d: NetDevice): void {
    if (d.operstate === IF_OPER_NOTPRESENT) return;
    const port = d.port;
    if (reattachable(port)) port.suspend();
    this.setState(d, { operstate: IF_OPER_NOTPRESENT, down: 'device deleted' }, false);
    this.host.log(`${this.label(d)}: device deleted`);
  }

  private reattach(d: NetDevice, e: LinkEvent): void {
    const port = d.port;
    if (!reattachable(port)) return;
    try {
      port.reopen();
    } catch (err) {
      this.host.log(`${this.label(d)}: re-attach failed: ${err instanceof Error ? err.message : String(err)}; trying again on its next link event`);
      return;
    }
    this.host.log(`${this.label(d)}: re-attached (ifindex ${port.ifindex}, ${port.mode})`);
    this.setState(d, linkState(e));
  }

  /** Apply a link state to a port and its VLANs: FIB, neighbours, one log line on a change. */
  private setState(d: NetDevice, st: LinkState, log = true): void {
    const wasUp = d.up;
    const up = st.down === null;
    if (wasUp === up) {
      d.operstate = st.operstate;
      this.host.devs.setLink(d.index, up, st.operstate);
      return;
    }
    const changed = this.host.devs.setLink(d.index, up, st.operstate);
    for (const i of changed) {
      this.host.setLinkDown(i, !up, st.down);
      if (!up) this.host.flushNeigh(i);
    }
    if (up) this.upCount[d.index]++;
    else this.downCount[d.index]++;
    if (log) this.host.log(up ? `${this.label(d)}: link up (state ${OPER_NAMES[st.operstate] ?? st.operstate})` : `${this.label(d)}: link down (${st.down})`);
  }
}

// Link events (the netdevice notifier, seen from user space): the addon listens on rtnetlink
// (RTMGRP_LINK) through libuv and hands every batch of messages to one callback. Control plane
// only: an event is an object, a handful per link change.
import { call, native } from './native.ts';

// include/uapi/linux/if.h
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

// RFC 2863 operstates (IF_OPER_*), as `ip link` prints them.
export const IF_OPER_UNKNOWN = 0;
export const IF_OPER_NOTPRESENT = 1;
export const IF_OPER_DOWN = 2;
export const IF_OPER_LOWERLAYERDOWN = 3;
export const IF_OPER_TESTING = 4;
export const IF_OPER_DORMANT = 5;
export const IF_OPER_UP = 6;
export const OPER_NAMES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

/** One RTM_NEWLINK / RTM_DELLINK, or 'overrun': messages were lost, re-read with linkDump(). */
export interface LinkEvent {
  event: 'new' | 'del' | 'overrun';
  ifindex: number;
  name: string;
  /** ifi_flags (IFF_*). */
  flags: number;
  /** IFLA_OPERSTATE, -1 when absent. */
  operstate: number;
  /** A 'del' because the device moved to another network namespace (IFLA_NEW_NETNSID). */
  moved: boolean;
}

interface LinkAddon {
  linkWatch(cb: (events: LinkEvent[]) => void): number;
  linkUnwatch(id: number): void;
  linkDump(): LinkEvent[];
}

function addon(): LinkAddon {
  return native() as unknown as LinkAddon;
}

/** A link's state as a port sees it: the operstate to show and, when unusable, why. */
export interface LinkState {
  operstate: number;
  /** null when traffic can flow; else 'admin down', 'carrier lost', 'dormant', 'device deleted'. */
  down: string | null;
}

/**
 * What Linux's FIB would make of a link (dev_open/netif_carrier_*): traffic needs IFF_UP and
 * carrier (IFF_LOWER_UP); a TAP or loopback reports operstate UNKNOWN and is usable.
 */
export function linkState(e: LinkEvent): LinkState {
  if (e.event === 'del') return { operstate: IF_OPER_NOTPRESENT, down: 'device deleted' };
  if ((e.flags & IFF_UP) === 0) return { operstate: IF_OPER_DOWN, down: 'admin down' };
  if ((e.flags & IFF_LOWER_UP) === 0 || e.operstate === IF_OPER_LOWERLAYERDOWN || e.operstate === IF_OPER_DOWN)
    return { operstate: IF_OPER_LOWERLAYERDOWN, down: 'carrier lost' };
  if (e.operstate === IF_OPER_DORMANT) return { operstate: IF_OPER_DORMANT, down: 'dormant' };
  return { operstate: e.operstate < 0 ? IF_OPER_UNKNOWN : e.operstate, down: null };
}

/** Every link of this network namespace now. */
export function linkDump(): LinkEvent[] {
  return call(() => addon().linkDump(), {});
}

/**
 * Listens for link changes in this process's network namespace until close(). The callback gets
 * each wake-up's events in order; it never keeps the process alive (the handle is unref'd).
 */
export class LinkMonitor {
  private id: number;

  constructor(onEvents: (events: LinkEvent[]) => void) {
    this.id = call(() => addon().linkWatch(onEvents), {});
  }

  close(): void {
    if (this.id < 0) return;
    addon().linkUnwatch(this.id);
    this.id = -1;
  }
}

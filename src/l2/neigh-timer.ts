import { solicit } from './neigh-solicit.ts';
import {
  NEIGH,
  NUD_DELAY,
  NUD_FAILED,
  NUD_INCOMPLETE,
  NUD_NONE,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
  type NeighEntries,
} from './neigh-table.ts';

/**
 * One pass of every entry's timer (neigh_timer_handler) and the periodic GC
 * (neigh_periodic_work): INCOMPLETE retransmits, then fails after mcast_solicit requests;
 * REACHABLE ages to DELAY (used lately) or STALE; DELAY starts unicast probes; PROBE fails after
 * ucast_solicit; unused STALE/FAILED/NOARP entries go after gc_stale_time. Time only moves
 * through `now`: the caller runs this regularly (NeighTable.tick).
 */
export function runTimers(t: NeighEntries, now: number): void {
  const p = t.parms;
  const state = t.state;
  const queued = t.pending.count;
  let gc = false;
  const periodic = t.size >= t.gcThresh1;
  for (let e = 0; e < t.capacity; e++) {
    const st = state[e];
    if (st === NUD_NONE || st === NUD_PERMANENT) continue;
    if (st === NUD_INCOMPLETE) {
      if (now >= t.timer[e]) {
        if (t.probes[e] >= p.mcastSolicit) enterFailed(t, e, now);
        else solicit(t, e, now);
      }
    } else if (st === NUD_REACHABLE) {
      if (now >= t.confirmed[e] + t.reachable[e]) {
        // Used lately: give the upper layers a chance to confirm (DELAY), else just STALE.
        if (now <= t.used[e] + p.delayProbeMs) enterDelay(t, e, now);
        else {
          state[e] = NUD_STALE;
          t.updated[e] = now;
          t.timer[e] = Infinity;
        }
      }
    } else if (st === NUD_DELAY) {
      if (now >= t.timer[e]) {
        state[e] = NUD_PROBE;
        t.updated[e] = now;
        t.probes[e] = 0;
        solicit(t, e, now);
      }
    } else if (st === NUD_PROBE) {
      if (now >= t.timer[e]) {
        if (t.probes[e] >= p.ucastSolicit) enterFailed(t, e, now);
        else solicit(t, e, now);
      }
    } else if (periodic && queued[e] === 0 && now - (st === NUD_FAILED ? t.updated[e] : t.used[e]) >= p.gcStaleMs) {
      // STALE, FAILED and NOARP entries nobody used for gc_stale_time (neigh_periodic_work),
      // only while the table holds at least gc_thresh1 entries.
      t.remove(e);
      gc = true;
    }
  }
  if (gc) t.stats.v[NEIGH.periodic_gc_runs]++;
}

/** STALE used for output: go to DELAY, probe later unless confirmed meanwhile (neigh_event_send). */
export function enterDelay(t: NeighEntries, e: number, now: number): void {
  t.state[e] = NUD_DELAY;
  t.updated[e] = now;
  t.timer[e] = now + t.parms.delayProbeMs;
}

/** A confirmation (unicast ARP reply) of an entry made REACHABLE: it lasts a random [0.5, 1.5) x base_reachable_time. */
export function enterReachable(t: NeighEntries, e: number, now: number): void {
  t.confirmed[e] = now;
  t.updated[e] = now;
  t.probes[e] = 0;
  const base = t.parms.baseReachableMs;
  t.reachable[e] = base / 2 + t.random() * base;
  t.timer[e] = now + t.reachable[e];
}

/** Resolution failed (neigh_invalidate): FAILED, queued packets reported to the hook and dropped. */
function enterFailed(t: NeighEntries, e: number, now: number): void {
  t.state[e] = NUD_FAILED;
  t.updated[e] = now;
  t.timer[e] = Infinity;
  t.stats.v[NEIGH.res_failed]++;
  t.stats.v[NEIGH.hook_errors] += t.pending.discard(e, t.rFailed, t.onResolutionFailed, t.dev[e], t.ip[e]);
}

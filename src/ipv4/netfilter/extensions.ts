/**
 * The registry: every match and target softnet knows, in canonical order. That order is the
 * order of `-S` and `-L` text (so -D/-C compare rules whatever order they were typed in) and of
 * the tests in the compiled program. Adding a match: its file in match/ and one line here.
 */

import { comment } from './match/comment.ts';
import { conntrack, state } from './match/conntrack.ts';
import { icmp } from './match/icmp.ts';
import { ip } from './match/ip.ts';
import { length } from './match/length.ts';
import { mark } from './match/mark.ts';
import { multiport } from './match/multiport.ts';
import { tcp, udp } from './match/tcpudp.ts';
import { dnat } from './target/dnat.ts';
import { ctTarget, notrackTarget } from './target/ct.ts';
import { logTarget } from './target/log.ts';
import { markTarget } from './target/mark.ts';
import { masquerade } from './target/masquerade.ts';
import { redirect } from './target/redirect.ts';
import { reject } from './target/reject.ts';
import { snat } from './target/snat.ts';
import { standard } from './target/standard.ts';
import type { Match, TargetExt } from './xt.ts';

/** The ip part first: it has no -m name and every rule has it loaded. */
export const MATCHES: readonly Match[] = [ip, tcp, udp, icmp, multiport, length, mark, state, conntrack, comment];
export const TARGETS: readonly TargetExt[] = [...standard, reject, logTarget, markTarget, snat, dnat, masquerade, redirect, ctTarget, notrackTarget];

/** Kernel targets softnet refuses with a reason rather than taking them for a chain name. */
export const UNSUPPORTED_TARGETS = ['CT', 'NOTRACK', 'TPROXY', 'CONNMARK', 'QUEUE', 'NFQUEUE', 'TCPMSS', 'TTL', 'TOS', 'DSCP'];

export const matchByName = new Map(MATCHES.filter((m) => m.name !== undefined).map((m) => [m.name!, m]));
export const targetByName = new Map(TARGETS.filter((t) => t.name !== undefined).map((t) => [t.name!, t]));
export const targetByKind = new Map(TARGETS.map((t) => [t.kind, t]));

/** The module that handles t (every Target the parser makes has one). */
export const targetOf = (t: { kind: string }): TargetExt => targetByKind.get(t.kind)!;

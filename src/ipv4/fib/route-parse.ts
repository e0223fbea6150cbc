/**
 * iproute2 route syntax: `[TYPE] PREFIX [via ADDR] [dev NAME] [metric N] [src ADDR] [proto P]`,
 * PREFIX = `default` | a.b.c.d[/len]. Errors name the offending word, as `ip route` does.
 */

import { formatIPv4, parseCidr, tryParseIPv4 } from '../../wire/addr.ts';
import { RTN_BROADCAST, RTN_LOCAL, RTN_NAMES, RTN_UNICAST, type Route } from './types.ts';

const TYPES: Record<string, number> = Object.fromEntries(Object.entries(RTN_NAMES).map(([k, v]) => [v, Number(k)]));
const EXPECTED = 'expected via|dev|metric|src|proto|scope';

/** Only the fields the text names (for `ip route del`, where unnamed fields match anything). */
export function parseRouteMatch(text: string, devIndex: (name: string) => number): Partial<Route> & { prefix: number; len: number } {
  const w = text.trim().split(/\s+/).filter((x) => x !== '');
  let i = 0;
  const out: Partial<Route> & { prefix: number; len: number } = { prefix: 0, len: 0 };
  if (w.length === 0) throw new Error('Error: empty route (expected PREFIX [via ADDR] [dev NAME] ...)');
  if (TYPES[w[i]] !== undefined) out.type = TYPES[w[i++]];
  if (w[i] === 'to') i++;
  const dst = w[i++];
  if (dst === undefined) throw new Error('Error: missing destination prefix (e.g. 10.0.0.0/8 or default)');
  if (dst === 'default' || dst === 'all' || dst === 'any') {
    out.prefix = 0;
    out.len = 0;
  } else {
    let c;
    try {
      c = parseCidr(dst, true);
    } catch (e) {
      throw new Error(`Error: "${dst}" is not a valid prefix: ${(e as Error).message}`);
    }
    out.prefix = c.prefix;
    out.len = c.len;
  }
  const seen = new Set<string>();
  while (i < w.length) {
    const key = w[i++];
    let k = key;
    if (k === 'priority' || k === 'preference') k = 'metric';
    if (seen.has(k)) throw new Error(`Error: either "${key}" is duplicate, or "${w[i] ?? ''}" is a garbage.`);
    seen.add(k);
    const val = w[i++];
    if (['via', 'dev', 'metric', 'src', 'proto', 'scope'].includes(k) && val === undefined) throw new Error(`Error: "${key}" needs an argument`);
    switch (k) {
      case 'via': {
        const a = tryParseIPv4(val!);
        if (a === null) throw new Error(`Error: "${val}" is not a valid gateway address for "via"`);
        out.gateway = a;
        break;
      }
      case 'dev': {
        const d = devIndex(val!);
        if (!(d >= 0)) throw new Error(`Cannot find device "${val}"`);
        out.oif = d;
        break;
      }
      case 'metric': {
        if (!/^\d+$/.test(val!) || Number(val) > 0xffffffff) throw new Error(`Error: "${val}" is not a valid metric (0..4294967295)`);
        out.metric = Number(val);
        break;
      }
      case 'src': {
        const a = tryParseIPv4(val!);
        if (a === null) throw new Error(`Error: "${val}" is not a valid source address for "src"`);
        out.src = a;
        break;
      }
      case 'proto': {
        if (val === 'kernel') out.proto = 'kernel';
        else if (val === 'static' || val === 'boot') out.proto = 'static';
        else throw new Error(`Error: "${val}" is not a supported protocol for "proto" (kernel|static|boot)`);
        break;
      }
      case 'scope': // derived from the route (link for on-link, global for gateways): accepted, not stored
        if (!['link', 'global', 'host', 'universe'].includes(val!)) throw new Error(`Error: "${val}" is not a valid scope`);
        break;
      default:
        throw new Error(`Error: "${key}" is unknown, ${EXPECTED}`);
    }
  }
  return out;
}

/** A full Route from iproute2 text: unnamed fields take ip route's defaults (unicast, metric 0, static). */
export function parseRoute(text: string, devIndex: (name: string) => number): Route {
  const m = parseRouteMatch(text, devIndex);
  const r: Route = {
    prefix: m.prefix,
    len: m.len,
    type: m.type ?? RTN_UNICAST,
    gateway: m.gateway ?? 0,
    oif: m.oif ?? -1,
    metric: m.metric ?? 0,
    proto: m.proto ?? 'static',
  };
  if (m.src !== undefined) r.src = m.src;
  return r;
}

/** One line of `ip route show`. */
export function formatRoute(r: Route, devName: (i: number) => string): string {
  const parts: string[] = [];
  if (r.type !== RTN_UNICAST) parts.push(RTN_NAMES[r.type] ?? String(r.type));
  parts.push(r.len === 0 && r.prefix === 0 ? 'default' : r.len === 32 ? formatIPv4(r.prefix) : `${formatIPv4(r.prefix)}/${r.len}`);
  if (r.gateway !== 0) parts.push('via', formatIPv4(r.gateway));
  if (r.oif >= 0) parts.push('dev', devName(r.oif));
  if (r.proto === 'kernel') parts.push('proto', 'kernel');
  if (r.type === RTN_LOCAL) parts.push('scope', 'host');
  else if ((r.type === RTN_UNICAST && r.gateway === 0 && r.oif >= 0) || r.type === RTN_BROADCAST) parts.push('scope', 'link');
  if (r.src !== undefined && r.src !== 0) parts.push('src', formatIPv4(r.src));
  if (r.metric !== 0) parts.push('metric', String(r.metric));
  if (r.linkdown === true) parts.push('linkdown');
  return parts.join(' ');
}

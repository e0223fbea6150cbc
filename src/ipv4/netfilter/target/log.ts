/**
 * The LOG target (xt_LOG with nf_log_ipv4's line format, libxt_LOG): a non-terminal target
 * that writes a kernel-log style line. Rate-limited per rule like `-m limit`'s defaults (3/s,
 * burst 5); Netfilter owns the sink and the suppressed count.
 */

import { formatIPv4 } from '../../../wire/addr.ts';
import { PROTOCOLS } from '../match/ip.ts';
import type { NfPacket } from '../packet.ts';
import type { Program } from '../program.ts';
import { fail, nameOf, quote, type Rule, type TargetExt } from '../xt.ts';

declare module '../xt.ts' {
  interface Target {
    logPrefix?: string;
    logLevel?: number;
  }
}

const LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];

/** Slow path, called from the compiled code: a failing sink must not take the packet path down with it. */
function log(prog: Program, r: number, p: NfPacket): void {
  try {
    prog.host.log(prog.rules[r], p);
  } catch {
    // nothing: the packet goes on
  }
}

export const logTarget: TargetExt = {
  kind: 'LOG',
  name: 'LOG',
  init: () => ({ kind: 'LOG', logPrefix: '', logLevel: 4 }),
  options: [
    {
      names: ['--log-prefix'],
      parse: (c) => {
        const p = c.arg();
        if (p.length > 29) fail(`Maximum prefix length is 29 characters: "${p}"`);
        c.rule.target.logPrefix = p;
      },
    },
    {
      names: ['--log-level'],
      parse: (c) => {
        const word = c.arg();
        const n = LEVELS.indexOf(word === 'warn' ? 'warning' : word === 'err' ? 'error' : word);
        c.rule.target.logLevel = n >= 0 ? n : /^[0-7]$/.test(word) ? Number(word) : fail(`log level "${word}" unknown (0..7 or emerg..debug)`);
      },
    },
  ],
  spec: (t) => '-j LOG' + (t.logPrefix ? ` --log-prefix ${quote(t.logPrefix)}` : '') + (t.logLevel !== 4 ? ` --log-level ${t.logLevel}` : ''),
  list: (t) => ` LOG flags 0 level ${t.logLevel}${t.logPrefix ? ` prefix "${t.logPrefix}"` : ''}`,
  code: 'log(prog, r, p);',
  helpers: { log },
};

const LOG_RATE = 3;
const LOG_BURST = 5;

/** Token bucket per rule (`-m limit` defaults). */
export class LogLimit {
  private readonly state = new Map<Rule, { tokens: number; last: number }>();

  allow(rule: Rule): boolean {
    const now = performance.now() / 1000;
    let st = this.state.get(rule);
    if (st === undefined) this.state.set(rule, (st = { tokens: LOG_BURST, last: now }));
    st.tokens = Math.min(LOG_BURST, st.tokens + (now - st.last) * LOG_RATE);
    st.last = now;
    if (st.tokens < 1) return false;
    st.tokens--;
    return true;
  }

  clear(): void {
    this.state.clear();
  }
}

/** The line nf_log_ipv4 would write: prefix, devices, addresses, length, protocol fields, mark. */
export function logLine(rule: Rule, p: NfPacket, devName: (i: number) => string): string {
  const dev = (i: number) => (i < 0 ? '' : String(devName(i) ?? i));
  let s = `${rule.target.logPrefix ?? ''}IN=${dev(p.iif)} OUT=${dev(p.oif)} SRC=${formatIPv4(p.saddr)} DST=${formatIPv4(p.daddr)} LEN=${p.len}`;
  if (p.fragOff !== 0) s += ` FRAG:${p.fragOff}`;
  const pn = nameOf(PROTOCOLS, p.proto);
  s += ` PROTO=${pn === undefined ? p.proto : pn.toUpperCase()}`;
  if (p.fragOff === 0 && (p.proto === 6 || p.proto === 17) && p.sport >= 0) s += ` SPT=${p.sport} DPT=${p.dport}`;
  if (p.fragOff === 0 && p.proto === 6) for (const [n, b] of [['URG', 0x20], ['ACK', 0x10], ['PSH', 0x08], ['RST', 0x04], ['SYN', 0x02], ['FIN', 0x01]] as const) if (p.tcpFlags & b) s += ` ${n}`;
  if (p.fragOff === 0 && p.proto === 1 && p.icmpType >= 0) s += ` TYPE=${p.icmpType} CODE=${p.icmpCode}`;
  if (p.mark !== 0) s += ` MARK=0x${p.mark.toString(16)}`;
  return s;
}

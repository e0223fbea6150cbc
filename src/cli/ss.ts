// `softnet ss`: a running stack's sockets, shaped like iproute2's ss (Netid State Recv-Q Send-Q
// Local Address:Port Peer Address:Port), asked over the control socket. Each transport protocol
// gives its rows (SockInfo); -i prints a protocol's details (tcp_info) under its row.
import { readFileSync } from 'node:fs';
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import type { SockInfo } from '../transport/types.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  tcp: { type: 'bool', help: '-t: TCP sockets' },
  udp: { type: 'bool', help: '-u: UDP sockets' },
  listening: { type: 'bool', help: '-l: only listening sockets (LISTEN, and UNCONN for UDP)' },
  all: { type: 'bool', help: '-a: listening and non-listening sockets' },
  numeric: { type: 'bool', help: '-n: port numbers, not service names' },
  info: { type: 'bool', help: '-i: protocol details (TCP: the tcp_info fields)' },
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  json: { type: 'bool', help: 'print the raw JSON rows' },
} as const;

/** ss's one-letter flags. */
const SHORT: Record<string, string> = { t: '--tcp', u: '--udp', l: '--listening', a: '--all', n: '--numeric', i: '--info' };

export const usage = `usage: softnet ss [-t] [-u] [-l] [-a] [-n] [-i] [--name NAME | --control PATH] [--json]

List a running stack's sockets like ss: Netid, State, Recv-Q (bytes its queue holds: one UMEM
frame per datagram), Send-Q, local and peer address:port. Without -l or -a, only
non-listening sockets (a UDP socket that is not connected is UNCONN, a listening one);
without -t/-u, every protocol. Short flags combine (-uln).

options:
${describeFlags(spec)}
`;

/** -uln -> --udp --listening --numeric; long flags pass through. */
export function expandShort(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (/^-[a-z]+$/.test(a)) {
      for (const c of a.slice(1)) {
        const f = SHORT[c];
        if (f === undefined) throw new UsageError(`unknown option '-${c}' (ss flags: -t -u -l -a -n -i)`);
        out.push(f);
      }
    } else out.push(a);
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(expandShort(argv), spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  const r = (await controlRequest(controlPath({ name: a.name, control: a.control }), 'ss')) as { sockets: SockInfo[] };
  const rows = filterSockets(r.sockets, a);
  process.stdout.write(a.json ? JSON.stringify(rows, null, 2) + '\n' : formatSs(rows, { netid: a.tcp === a.udp, numeric: a.numeric, info: a.info }));
  return 0;
}

export interface SsFilter {
  tcp: boolean;
  udp: boolean;
  listening: boolean;
  all: boolean;
}

/** ss's selection: protocols (-t/-u, none = all), states (-l listening only, -a all, default the connected ones but TIME-WAIT and SYN-RECV). */
export function filterSockets(rows: readonly SockInfo[], f: SsFilter): SockInfo[] {
  const any = !f.tcp && !f.udp;
  return rows.filter((s) => {
    if (!any && !((f.tcp && s.netid === 'tcp') || (f.udp && s.netid === 'udp'))) return false;
    if (f.all) return true;
    const listening = s.state === 'LISTEN' || s.state === 'UNCONN';
    // ss's default state filter also leaves out TIME-WAIT and SYN-RECV (shown with -a).
    return f.listening ? listening : !listening && s.state !== 'TIME-WAIT' && s.state !== 'SYN-RECV';
  });
}

/** The table: columns as ss aligns them (the address right-aligned up to its ':', the port after). */
export function formatSs(rows: readonly SockInfo[], o: { netid: boolean; numeric: boolean; info: boolean }, services = serviceNames()): string {
  const port = (p: number, proto: string, peer: boolean) => (peer && p === 0 ? '*' : (!o.numeric && services.get(`${p}/${proto}`)) || String(p));
  const cells = rows.map((s) => ({
    netid: s.netid,
    state: s.state,
    rq: String(s.recvQ),
    sq: String(s.sendQ),
    la: s.localAddress,
    lp: port(s.localPort, s.netid, false),
    pa: s.peerAddress,
    pp: port(s.peerPort, s.netid, true),
    info: s.info,
  }));
  const w = (head: string, f: (c: (typeof cells)[number]) => string) => Math.max(head.length, ...cells.map((c) => f(c).length));
  const wn = w('Netid', (c) => c.netid);
  const ws = w('State', (c) => c.state);
  const wr = w('Recv-Q', (c) => c.rq);
  const wq = w('Send-Q', (c) => c.sq);
  const wla = w('Local Address', (c) => c.la);
  const wlp = w('Port', (c) => c.lp);
  const wpa = w('Peer Address', (c) => c.pa);
  const wpp = w('Port', (c) => c.pp);
  const line = (n: string, s: string, r: string, q: string, la: string, lp: string, pa: string, pp: string) =>
    ((o.netid ? n.padEnd(wn) + ' ' : '') + `${s.padEnd(ws)} ${r.padEnd(wr)} ${q.padEnd(wq)} ${la.padStart(wla)}:${lp.padEnd(wlp)} ${pa.padStart(wpa)}:${pp.padEnd(wpp)}`).trimEnd();
  let out = line('Netid', 'State', 'Recv-Q', 'Send-Q', 'Local Address', 'Port', 'Peer Address', 'Port') + '\n';
  for (const c of cells) {
    out += line(c.netid, c.state, c.rq, c.sq, c.la, c.lp, c.pa, c.pp) + '\n';
    if (o.info && c.info !== undefined) out += '\t ' + Object.entries(c.info).map(([k, v]) => `${k}:${v}`).join(' ') + '\n';
  }
  return out;
}

/** "PORT/proto" -> name from /etc/services (empty when it cannot be read). */
export function serviceNames(file = '/etc/services'): Map<string, string> {
  const m = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return m;
  }
  for (const l of text.split('\n')) {
    const w = l.replace(/#.*/, '').trim().split(/\s+/);
    if (w.length < 2 || !/^\d+\/(tcp|udp)$/.test(w[1])) continue;
    if (!m.has(w[1])) m.set(w[1], w[0]);
  }
  return m;
}

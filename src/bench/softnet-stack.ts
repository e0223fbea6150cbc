/**
 * Running a softnet stack (`softnet up --config`) as a benchmark system: the YAML config for the
 * lab's two ports, 10k routes and 20 netfilter rules, readiness over the control socket, and the
 * per-stage runtime table.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import type { Lab } from '../tools/lab.ts';
import { round } from './stats.ts';
import { sleep } from './proc.ts';
import type { StageRow } from './types.ts';

export interface StackOptions {
  name: string;
  lab: Lab;
  routes: number;
  rules: number;
  busyPoll: boolean;
  /** CPU for the stack's poll-loop thread (napi.cpu): the thread only, so V8's helpers float. */
  cpu?: number;
  /** napi.defer_hard_irqs (absent: the stack's default). */
  deferHardIrqs?: boolean;
  xdp?: string;
  mode?: string;
  /** Entries of the config's `services:`, as YAML flow maps ({proto: tcp, port: 9, kind: discard}). */
  services?: string[];
  /** More netfilter lines after the rules (`-t nat -A POSTROUTING ...`). */
  netfilter?: string[];
  /** More `sysctl:` entries (tcp_rmem...). */
  sysctl?: Record<string, string | number>;
}

/** 10k-style route table: /24s under 100.64.0.0/10 via host B, none of them the traffic's. */
export function routeLines(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`100.${64 + ((i >> 8) & 63)}.${i & 255}.0/24 via 10.2.0.2`);
  return out;
}

/** FORWARD rules that the benchmark traffic (UDP to port 9) traverses without matching. */
export function ruleLines(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(i % 2 ? `-A FORWARD -p tcp --dport ${2000 + i} -j DROP` : `-A FORWARD -s 192.0.2.${i}/32 -j DROP`);
  return out;
}

export function stackConfig(o: StackOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const port = (name: string, dev: string, addr: string) =>
    [`  - name: ${name}`, `    dev: ${dev}`, '    queue: 0', `    mode: ${o.mode ?? 'xdp-drv'}`, `    addresses: [${addr}]`, ...(o.xdp ? [`    xdp: ${q(o.xdp)}`] : [])].join('\n');
  return [
    `name: ${o.name}`,
    'ports:',
    port('p0', o.lab.a.dev, `${o.lab.a.ip}/24`),
    port('p1', o.lab.b.dev, `${o.lab.b.ip}/24`),
    ...list('routes', routeLines(o.routes)),
    ...list('netfilter', [...ruleLines(o.rules), ...(o.netfilter ?? [])].map(q)),
    ...list('services', o.services ?? []),
    'sysctl:',
    '  ip_forward: 1',
    ...Object.entries(o.sysctl ?? {}).map(([k, v]) => `  ${k}: ${q(String(v))}`),
    'napi:',
    `  busy_poll: ${o.busyPoll}`,
    ...(o.cpu !== undefined ? [`  cpu: ${o.cpu}`] : []),
    ...(o.deferHardIrqs !== undefined ? [`  defer_hard_irqs: ${o.deferHardIrqs}`] : []),
    '',
  ].join('\n');
}

/** A YAML block list (`key: []` when empty). */
function list(key: string, items: string[]): string[] {
  return items.length ? [`${key}:`, ...items.map((x) => `  - ${x}`)] : [`${key}: []`];
}

/** Removes a config written by writeStackConfig (and its temporary directory). */
export function removeStackConfig(file: string): void {
  if (path.basename(path.dirname(file)).startsWith('snbench-')) rmSync(path.dirname(file), { recursive: true, force: true });
}

export function writeStackConfig(o: StackOptions): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snbench-'));
  const f = path.join(dir, `${o.name}.yaml`);
  writeFileSync(f, stackConfig(o));
  return f;
}

/** Waits until the stack answers `stat` on its control socket. */
export async function waitStack(name: string, timeoutMs: number, alive: () => boolean, tail: () => string = () => ''): Promise<void> {
  const p = controlPath({ name });
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    if (!alive()) throw new Error(`softnet up exited before its control socket answered${tail()}`);
    if (existsSync(p)) {
      try {
        await controlRequest(p, 'stat', {}, { timeoutMs: 2000 });
        return;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    await sleep(200);
  }
  throw new Error(`softnet up: no answer on ${p} within ${timeoutMs} ms${last ? `: ${last}` : ''}${tail()}`);
}

interface RuntimeView {
  rows: Array<{ name: string; calls: number; packets: number; packetsPerCall: number; nsPerPacket: number }>;
}

/** The per-stage runtime table (optionally clearing it). */
export async function runtime(name: string, clear = false): Promise<StageRow[]> {
  const r = (await controlRequest(controlPath({ name }), 'runtime', { clear })) as RuntimeView;
  return toStageRows(r.rows ?? []);
}

export function toStageRows(rows: RuntimeView['rows']): StageRow[] {
  const used = rows.filter((r) => r.packets > 0 && Number.isFinite(r.nsPerPacket));
  const total = used.reduce((a, r) => a + r.nsPerPacket, 0);
  return used.map((r) => ({
    stage: r.name,
    calls: r.calls,
    packets: r.packets,
    packetsPerCall: round(r.packetsPerCall, 2),
    nsPerPacket: round(r.nsPerPacket, 2),
    sharePct: total > 0 ? round((r.nsPerPacket / total) * 100, 2) : 0,
  }));
}

/** The Markdown report: one table per scenario, the per-stage table, targets, machine and placement. */
import { IMIX, round } from './stats.ts';
import type { BenchResult, ScenarioEntry, StageRow, SystemResult } from './types.ts';

export function sizeLabel(s: number | 'imix'): string {
  return s === 'imix' ? 'IMIX' : `${s} B`;
}

/** One cell: "min / **median** / max", or the reason it is not a number. */
export function cell(r: SystemResult | undefined): string {
  if (!r) return '—';
  if (r.status === 'not-run' || r.median === undefined) return esc(r.reason ?? 'not run');
  const nums = `${fmt(r.min!)} / **${fmt(r.median)}** / ${fmt(r.max!)}`;
  if (r.status === 'generator-limited') return `generator-limited (≥ ${fmt(r.median)})`;
  if (r.status === 'loss') return `${esc(r.reason ?? 'loss')}`;
  return nums;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(x >= 1 ? 2 : 3);
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Targets from issue 5, checked against the same-run ratios. */
export const TARGETS: { scenario: string; baseline: string; op: '>=' | '<='; value: number; text: string }[] = [
  { scenario: 'rxdrop', baseline: 'c-rxdrop', op: '>=', value: 0.9, text: 'rxdrop: softnet ≥ 0.9× the C reference' },
  { scenario: 'router', baseline: 'c-fwd', op: '>=', value: 0.95, text: 'router: softnet ≥ 0.95× the C AF_XDP forwarder' },
  { scenario: 'router', baseline: 'linux-fwd', op: '>=', value: 1.0, text: 'router: softnet ≥ 1.0× Linux forwarding' },
  { scenario: 'latency', baseline: 'linux-fwd', op: '<=', value: 1.0, text: 'latency: p99 through softnet (busy-poll) ≤ Linux forwarding' },
  { scenario: 'udp', baseline: 'kernel-recvmmsg', op: '>=', value: 1.5, text: 'udp: an app reading with recvBatch ≥ 1.5× a kernel socket with recvmmsg (issue 10)' },
];

export function targetLines(res: BenchResult): string[] {
  const out: string[] = [];
  for (const t of TARGETS) {
    const es = res.scenarios.filter((e) => e.name === t.scenario);
    if (es.length === 0) {
      out.push(`- ${t.text}: **not measured** (scenario not run)`);
      continue;
    }
    const parts = es.map((e) => {
      const q = e.ratios[t.baseline];
      if (q === null || q === undefined) return `${sizeLabel(e.frameSize)} n/a`;
      const ok = t.op === '>=' ? q >= t.value : q <= t.value;
      return `${sizeLabel(e.frameSize)} ${q.toFixed(2)}× ${ok ? 'met' : 'NOT met'}`;
    });
    out.push(`- ${t.text}: ${parts.join(', ')}`);
  }
  return out;
}

export function throughputTable(entries: ScenarioEntry[], link: string): string[] {
  const systems = unique(entries.flatMap((e) => Object.keys(e.systems)));
  const subject = systems[0];
  const baselines = unique(entries.flatMap((e) => Object.keys(e.ratios)));
  const unit = entries[0]?.metric === 'mpps' ? 'Mpps' : entries[0]?.metric;
  const lineRate = entries.some((e) => e.lineRatePct != null);
  const head = [entries[0]?.case ? 'case' : 'frame', ...systems.map((s) => `${s} ${unit}`), ...baselines.map((b) => `${subject} / ${b}`), ...(lineRate ? [`${subject} % of ${link}`] : [])];
  const rows = [row(head), row(head.map(() => '---'))];
  for (const e of entries) {
    rows.push(
      row([
        e.case ?? sizeLabel(e.frameSize),
        ...systems.map((s) => cell(e.systems[s])),
        ...baselines.map((b) => (e.ratios[b] == null ? 'n/a' : `${e.ratios[b]!.toFixed(2)}×`)),
        ...(lineRate ? [e.lineRatePct == null ? 'n/a' : `${e.lineRatePct.toFixed(1)}%`] : []),
      ]),
    );
  }
  return rows;
}

export function latencyTable(entries: ScenarioEntry[]): string[] {
  const rows = [row(['frame', 'system', 'p50 µs', 'p99 µs', 'p99.9 µs', 'samples', 'p99 per rep (min / median / max)']), row(Array(7).fill('---'))];
  for (const e of entries) {
    for (const [name, r] of Object.entries(e.systems)) {
      if (r.status === 'not-run' || r.p50 === undefined) {
        rows.push(row([sizeLabel(e.frameSize), name, esc(r.reason ?? 'not run'), '', '', '', '']));
        continue;
      }
      const flag = r.status === 'loss' ? ` (${esc(r.reason ?? 'loss')})` : '';
      rows.push(row([sizeLabel(e.frameSize), name, fmt(r.p50), fmt(r.p99!), fmt(r.p999!), String(r.samples), `${fmt(r.min!)} / ${fmt(r.median!)} / ${fmt(r.max!)}${flag}`]));
    }
  }
  return rows;
}

export function stageTable(stages: StageRow[]): string[] {
  const rows = [row(['stage', 'calls', 'packets', 'packets/call', 'ns/packet', 'share']), row(Array(6).fill('---'))];
  for (const s of stages) {
    rows.push(row([s.stage, String(s.calls), String(s.packets), s.packetsPerCall.toFixed(1), s.nsPerPacket.toFixed(1), `${s.sharePct.toFixed(1)}%`]));
  }
  return rows;
}

export function markdown(res: BenchResult, svgs: string[] = []): string {
  const m = res.machine;
  const L: string[] = [];
  L.push(`# softnet benchmark — ${res.startedAt.slice(0, 19).replace('T', ' ')} UTC`);
  L.push('');
  L.push(`Command: \`${res.command}\` (${res.options.quick ? 'quick, ' : ''}${res.options.reps} reps × ${res.options.seconds} s, link ${res.options.link}, took ${res.durationSeconds} s)`);
  L.push('');
  L.push(`Machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.kernel}, Node ${m.node}, commit ${m.commit}.`);
  L.push('');
  L.push('Figures are million frames per second received (min / **median** / max over the repetitions; systems alternate within each repetition). Ratios are of medians from the same run. Line rate counts 20 B of preamble and inter-frame gap per frame; sizes include the FCS. ' +
    `IMIX = ${IMIX.map((x) => `${x.weight}×${x.size} B`).join(' + ')} (simple IMIX 7:4:1, mixed per packet by the generator). ` +
    'The lab links are veth pairs, which have no line rate of their own: "% of link" is the share of a real link of that speed the rate would fill (it can exceed 100%). ' +
    '"generator-limited" means the receiver took all the generator sent, so its capacity is unknown (at least the figure shown); "not run" gives the reason.');
  L.push('');
  L.push('## Targets (issue 5)');
  L.push(...targetLines(res));
  L.push('');
  const names = unique(res.scenarios.map((e) => e.name));
  for (const name of names) {
    const es = res.scenarios.filter((e) => e.name === name);
    L.push(`## ${name}`);
    if (res.placement[name]?.length) L.push('', `CPU placement: ${res.placement[name].join('; ')}.`);
    L.push('');
    if (es[0].metric === 'rtt-us') L.push(...latencyTable(es));
    else L.push(...throughputTable(es, res.options.link));
    const notes = es.flatMap((e) => Object.values(e.ratioNotes ?? {}).map((n) => `${sizeLabel(e.frameSize)}: ${n}`));
    const withStages = es.filter((e) => e.stages?.length);
    if (withStages.length) {
      const e = withStages.find((x) => x.frameSize === 64) ?? withStages[0];
      L.push('', `Per-stage runtime (softnet, ${e.case ?? sizeLabel(e.frameSize)}, median repetition):`, '');
      L.push(...stageTable(e.stages!));
    }
    if (notes.length) L.push('', ...unique(notes).map((n) => `- ${esc(n)}`));
    for (const t of res.tables ?? []) {
      if (t.scenario !== name) continue;
      L.push('', `${t.title}:`, '', row(t.head.map(esc)), row(t.head.map(() => '---')), ...t.rows.map((r) => row(r.map(esc))));
      if (t.notes?.length) L.push('', ...t.notes.map((n) => `- ${n}`));
    }
    L.push('');
  }
  if (res.notRun.length) {
    L.push('## Not run');
    for (const s of res.notRun) L.push(`- ${s.name}: ${esc(s.reason)}`);
    L.push('');
  }
  for (const f of svgs) L.push(`![${f}](${f})`, '');
  return L.join('\n');
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

export { round };

/**
 * SVG charts written directly (no browser, no dependency): Mpps by frame size for softnet and each
 * baseline as grouped bars with min–max whiskers, and per-stage ns/packet as stacked bars.
 */
import { sizeLabel } from './report.ts';
import type { ScenarioEntry, StageRow } from './types.ts';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum and tick step for a data maximum. */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { top: Math.ceil(max / step) * step, step };
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) < 1 ? 2 : 1);
}

/** Grouped bars: one group per frame size, one bar per system (median), whiskers min–max. */
export function groupedBarsSvg(title: string, entries: ScenarioEntry[], unit = 'Mpps'): string {
  const systems = [...new Set(entries.flatMap((e) => Object.keys(e.systems)))];
  const W = 760;
  const H = 380;
  const m = { l: 60, r: 20, t: 40, b: 80 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  let max = 0;
  for (const e of entries) for (const s of systems) {
    const r = e.systems[s];
    if (r && r.status !== 'not-run' && r.max !== undefined) max = Math.max(max, r.max);
  }
  const { top, step } = niceScale(max);
  const y = (v: number) => m.t + ph - (v / top) * ph;
  const gw = pw / Math.max(1, entries.length);
  const bw = Math.min(48, (gw * 0.8) / Math.max(1, systems.length));
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escXml(title)}</text>`);
  for (let v = 0; v <= top + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    o.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${m.l - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#555">${num(v)}</text>`);
  }
  o.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escXml(unit)} (median, min–max)</text>`);
  entries.forEach((e, gi) => {
    const gx = m.l + gi * gw + (gw - bw * systems.length) / 2;
    systems.forEach((s, si) => {
      const r = e.systems[s];
      const x = gx + si * bw;
      const color = PALETTE[si % PALETTE.length];
      if (!r || r.status === 'not-run' || r.median === undefined) {
        o.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(m.t + ph - 4).toFixed(1)}" text-anchor="end" font-size="10" fill="#999" transform="rotate(-90 ${(x + bw / 2).toFixed(1)} ${(m.t + ph - 4).toFixed(1)})">not run</text>`);
        return;
      }
      const limited = r.status !== 'ok';
      const y0 = y(r.median);
      o.push(`<rect x="${(x + 1).toFixed(1)}" y="${y0.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(m.t + ph - y0).toFixed(1)}" fill="${color}"${limited ? ' fill-opacity="0.35" stroke="' + color + '" stroke-dasharray="3 2"' : ''}><title>${escXml(`${s} ${sizeLabel(e.frameSize)}: ${r.median} ${unit}${r.reason ? ' — ' + r.reason : ''}`)}</title></rect>`);
      if (r.min !== undefined && r.max !== undefined) {
        const cx = (x + bw / 2).toFixed(1);
        o.push(`<line x1="${cx}" x2="${cx}" y1="${y(r.min).toFixed(1)}" y2="${y(r.max).toFixed(1)}" stroke="#222"/>`);
      }
      o.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(y0 - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#222">${limited ? '≥' : ''}${num(r.median)}</text>`);
    });
    o.push(`<text x="${(m.l + gi * gw + gw / 2).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle" fill="#333">${escXml(sizeLabel(e.frameSize))}</text>`);
  });
  o.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`);
  legend(o, systems, m.l, H - 30);
  o.push('</svg>');
  return o.join('\n') + '\n';
}

function legend(o: string[], names: string[], x0: number, y0: number): void {
  let x = x0;
  names.forEach((s, i) => {
    o.push(`<rect x="${x}" y="${y0}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    o.push(`<text x="${x + 16}" y="${y0 + 10}" fill="#333">${escXml(s)}</text>`);
    x += 16 + s.length * 7 + 18;
  });
}

/** Stacked horizontal bars of per-stage ns/packet, one bar per labelled stage table. */
export function stackedStagesSvg(title: string, bars: { label: string; stages: StageRow[] }[]): string {
  const stages = [...new Set(bars.flatMap((b) => b.stages.map((s) => s.stage)))];
  const W = 760;
  const barH = 28;
  const m = { l: 90, r: 30, t: 40, b: 40 + 18 * Math.ceil(stages.length / 4) };
  const H = m.t + m.b + Math.max(1, bars.length) * (barH + 12);
  const pw = W - m.l - m.r;
  const max = Math.max(0, ...bars.map((b) => b.stages.reduce((a, s) => a + s.nsPerPacket, 0)));
  const { top, step } = niceScale(max);
  const x = (v: number) => m.l + (v / top) * pw;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escXml(title)}</text>`);
  const plotBottom = m.t + bars.length * (barH + 12);
  for (let v = 0; v <= top + 1e-9; v += step) {
    const xx = x(v).toFixed(1);
    o.push(`<line x1="${xx}" x2="${xx}" y1="${m.t - 4}" y2="${plotBottom}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${xx}" y="${plotBottom + 14}" text-anchor="middle" fill="#555">${num(v)}</text>`);
  }
  o.push(`<text x="${m.l + pw / 2}" y="${plotBottom + 30}" text-anchor="middle" fill="#333">ns per packet</text>`);
  bars.forEach((b, bi) => {
    const yy = m.t + bi * (barH + 12);
    o.push(`<text x="${m.l - 8}" y="${yy + barH / 2}" text-anchor="end" dominant-baseline="middle" fill="#333">${escXml(b.label)}</text>`);
    let acc = 0;
    for (const s of b.stages) {
      const i = stages.indexOf(s.stage);
      const x0 = x(acc);
      const w = x(acc + s.nsPerPacket) - x0;
      o.push(`<rect x="${x0.toFixed(1)}" y="${yy}" width="${Math.max(0, w).toFixed(1)}" height="${barH}" fill="${PALETTE[i % PALETTE.length]}" stroke="#fff"><title>${escXml(`${s.stage}: ${s.nsPerPacket.toFixed(1)} ns/packet (${s.sharePct.toFixed(1)}%)`)}</title></rect>`);
      if (w > 28) o.push(`<text x="${(x0 + w / 2).toFixed(1)}" y="${yy + barH / 2}" text-anchor="middle" dominant-baseline="middle" font-size="10" fill="#fff">${num(Math.round(s.nsPerPacket * 10) / 10)}</text>`);
      acc += s.nsPerPacket;
    }
    o.push(`<text x="${(x(acc) + 4).toFixed(1)}" y="${yy + barH / 2}" dominant-baseline="middle" font-size="11" fill="#222">${num(Math.round(acc * 10) / 10)}</text>`);
  });
  // legend, 4 per row
  stages.forEach((s, i) => {
    const lx = m.l + (i % 4) * 160;
    const ly = plotBottom + 44 + Math.floor(i / 4) * 18;
    o.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    o.push(`<text x="${lx + 16}" y="${ly + 10}" fill="#333">${escXml(s)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}

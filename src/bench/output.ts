/** Writes a run's files: JSON (one per run + latest.json), latest.md and the SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { markdown, sizeLabel } from './report.ts';
import { groupedBarsSvg, stackedStagesSvg } from './svg.ts';
import type { BenchResult } from './types.ts';

export interface Written {
  json: string;
  latestJson: string;
  markdown: string;
  svgs: string[];
}

/** Chart files for a result, by name (relative to the results directory). */
export function charts(res: BenchResult): Record<string, string> {
  const out: Record<string, string> = {};
  const names = [...new Set(res.scenarios.map((e) => e.name))];
  for (const name of names) {
    const es = res.scenarios.filter((e) => e.name === name);
    if (es[0].metric !== 'mpps') continue;
    out[`${name}.svg`] = groupedBarsSvg(`${name}: Mpps by frame size (${res.options.reps} rep${res.options.reps === 1 ? "" : "s"}, median and min–max)`, es);
  }
  const bars = res.scenarios
    .filter((e) => e.stages?.length)
    .map((e) => ({ label: `${e.name} ${e.case ?? sizeLabel(e.frameSize)}`, stages: e.stages! }));
  if (bars.length) out['stages.svg'] = stackedStagesSvg('softnet per-stage cost on live traffic (ns/packet)', bars);
  return out;
}

export function writeOutputs(res: BenchResult, dir: string, jsonFile?: string): Written {
  mkdirSync(dir, { recursive: true });
  const stamp = res.startedAt.replace(/[:]/g, '').replace(/\..*$/, '');
  const json = jsonFile ?? path.join(dir, `bench-${stamp}${res.options.quick ? '-quick' : ''}.json`);
  mkdirSync(path.dirname(json), { recursive: true });
  const text = JSON.stringify(res, null, 2) + '\n';
  writeFileSync(json, text);
  const latestJson = path.join(dir, 'latest.json');
  writeFileSync(latestJson, text);
  const svgs: string[] = [];
  for (const [name, svg] of Object.entries(charts(res))) {
    writeFileSync(path.join(dir, name), svg);
    svgs.push(name);
  }
  const md = path.join(dir, 'latest.md');
  writeFileSync(md, markdown(res, svgs));
  return { json, latestJson, markdown: md, svgs: svgs.map((s) => path.join(dir, s)) };
}

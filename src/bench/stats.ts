/**
 * The benchmarks' arithmetic (the suite's and bench/'s scripts'), kept pure so tests can check it:
 * summaries of repetitions, ratios of medians, line rate with preamble and inter-frame gap, and
 * the IMIX mix. "No value" is null, never NaN, so it survives JSON.
 *
 * Frame sizes are Ethernet frame sizes *including* the 4-byte FCS, as in RFC 2544 and every
 * line-rate table: a "64 B frame" is 60 B of header+payload on the wire plus FCS. On the wire
 * each frame also costs 8 B of preamble/SFD and a 12 B inter-frame gap: 20 B in all.
 */

export const WIRE_OVERHEAD = 20; // preamble 7 + SFD 1 + inter-frame gap 12
export const FCS = 4;

export const LINKS = { '1g': 1e9, '10g': 10e9, '25g': 25e9, '40g': 40e9, '100g': 100e9 } as const;
export type Link = keyof typeof LINKS;
export function isLink(s: string): s is Link {
  return Object.prototype.hasOwnProperty.call(LINKS, s);
}

/**
 * IMIX: the "simple IMIX" of 7:4:1 IP packets of 40/576/1500 B, as Ethernet frames with FCS:
 * 64 (40 B IP padded to the minimum frame), 594 and 1518 B. Average 361.83 B per frame.
 */
export const IMIX: readonly { size: number; weight: number }[] = [
  { size: 64, weight: 7 },
  { size: 594, weight: 4 },
  { size: 1518, weight: 1 },
];

export type FrameSize = number | 'imix';

/** Average frame size (with FCS) of a size or the IMIX mix. */
export function meanFrameSize(size: FrameSize): number {
  if (size !== 'imix') return size;
  let bytes = 0;
  let n = 0;
  for (const { size: s, weight } of IMIX) {
    bytes += s * weight;
    n += weight;
  }
  return bytes / n;
}

/**
 * The IMIX pattern as a sequence of frame sizes, interleaved so a short run is still close to the
 * mix (64, 594, 64, 1518, ...): 12 entries for 7:4:1.
 */
export function imixSequence(): number[] {
  const total = IMIX.reduce((a, m) => a + m.weight, 0);
  const out: number[] = [];
  const given = IMIX.map(() => 0);
  for (let i = 0; i < total; i++) {
    // pick the entry furthest behind its share (smooth weighted round robin)
    let best = 0;
    let bestLag = -Infinity;
    for (let j = 0; j < IMIX.length; j++) {
      const lag = ((i + 1) * IMIX[j].weight) / total - given[j];
      if (lag > bestLag) {
        bestLag = lag;
        best = j;
      }
    }
    given[best]++;
    out.push(IMIX[best].size);
  }
  return out;
}

/** Frames per second a link carries at a frame size (with FCS), counting preamble and gap. */
export function lineRatePps(size: FrameSize, link: Link): number {
  return LINKS[link] / ((meanFrameSize(size) + WIRE_OVERHEAD) * 8);
}

/** Percentage of line rate that `mpps` (million frames/s) is at a frame size and link. */
export function lineRatePct(mpps: number, size: FrameSize, link: Link): number {
  return ((mpps * 1e6) / lineRatePps(size, link)) * 100;
}

/** Bits per second on the wire (incl. preamble and gap) at a packet rate. */
export function wireBps(mpps: number, size: FrameSize): number {
  return mpps * 1e6 * (meanFrameSize(size) + WIRE_OVERHEAD) * 8;
}

export interface Summary {
  min: number;
  median: number;
  max: number;
  n: number;
}

/** Median of a list (mean of the middle two for an even count). Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summary of no values');
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`not a finite value: ${v}`);
  return { min: Math.min(...values), median: median(values), max: Math.max(...values), n: values.length };
}

/** Summary of the values, or null when there are none. Throws on a value that is not finite. */
export function summarizeSome(values: readonly number[]): Summary | null {
  return values.length ? summarize(values) : null;
}

/** softnet's median over a baseline's median; null when either is missing or the baseline's median is 0. */
export function ratioOfMedians(softnet: Summary | null, baseline: Summary | null): number | null {
  if (softnet === null || baseline === null || !(baseline.median > 0)) return null;
  return softnet.median / baseline.median;
}

/**
 * Percentile by nearest rank on a sorted copy (p in 0..100): the smallest value with at least p%
 * of the samples at or below it. p99.9 of fewer than 1000 samples is the maximum.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  if (p < 0 || p > 100) throw new Error(`percentile out of range: ${p}`);
  const s = Float64Array.from(values).sort();
  // round away float noise first (99.9 / 100 * 1000 = 999.0000000000001)
  const rank = Math.max(1, Math.ceil(Math.round((p / 100) * s.length * 1e6) / 1e6));
  return s[rank - 1];
}

/** Round for display/JSON without losing meaningful digits. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A summary in `unit`s, each figure rounded to `digits`. */
export function roundSummary(s: Summary, digits: number, unit = 1): Summary {
  return { min: round(s.min / unit, digits), median: round(s.median / unit, digits), max: round(s.max / unit, digits), n: s.n };
}

/** "min / median / max" of a summary in `unit`s with `digits` decimals ("1.23 / 2.50 / 3.00"); "n/a" for none. */
export function fmtSummary(s: Summary | null, digits: number, unit = 1): string {
  if (s === null) return 'n/a';
  return [s.min, s.median, s.max].map((x) => (x / unit).toFixed(digits)).join(' / ');
}

/**
 * Whether a receiver's rate is limited by what the generator offered rather than by the receiver:
 * the receiver took (almost) everything the generator sent, so its capacity is at least this and
 * the figure is a lower bound, not a measurement of the receiver.
 */
export function generatorLimited(rxMpps: number, genMpps: number, tolerance = 0.03): boolean {
  if (!(genMpps > 0)) return false;
  return rxMpps >= genMpps * (1 - tolerance);
}

/** Loss fraction between what was sent and what arrived (0 when nothing was sent). */
export function lossFraction(sent: number, received: number): number {
  if (!(sent > 0)) return 0;
  return Math.max(0, (sent - received) / sent);
}

/** Shapes shared by the suite's runner, scenarios, reports and the JSON file. */
import type { FrameSize, Link, Summary } from './stats.ts';

/** One row of softnet's per-stage runtime table (`softnet stat --runtime --json`). */
export interface StageRow {
  stage: string;
  calls: number;
  packets: number;
  packetsPerCall: number;
  nsPerPacket: number;
  /** Share of the total ns/packet, 0..100. */
  sharePct: number;
}

/** What one repetition of one system measured. */
export interface Sample {
  /** Receiver's rate over its measuring window: million frames/s, or the scenario's `metric`. */
  mpps: number;
  /** Generator's rate over the same run (to detect a generator-limited result). */
  genMpps?: number;
  /** Why this repetition measured the generator rather than the receiver (TCP: the sender's CPU was saturated, the receiver's not). */
  limited?: string;
  /** For loss checks where the scenario expects none. */
  sent?: number;
  received?: number;
  seconds: number;
  /** Round-trip times (µs) for latency systems. */
  rttUs?: number[];
  stages?: StageRow[];
  /** Anything else worth keeping (mode taken, XDP statistics...). */
  extra?: Record<string, unknown>;
}

/** What the runner hands to a system for one measurement. */
export interface RunContext {
  seconds: number;
  link: Link;
  quick: boolean;
  /** Live per-second figure for the progress line (packets/s or a short text). */
  rate(pps: number, note?: string): void;
  /** A line of log (shown above the progress bar, kept in the JSON log). */
  log(msg: string): void;
}

export interface BenchSystem {
  /** JSON key: `softnet`, `c-rxdrop`, `kernel-xdp-drop`, `c-fwd`, `linux-fwd`, ... */
  name: string;
  /** Once per run, before any measurement: a reason string if this system cannot run. */
  check?(): Promise<string | null>;
  run(ctx: RunContext, size: FrameSize): Promise<Sample>;
}

export interface Scenario {
  name: string;
  title: string;
  kind: 'throughput' | 'latency';
  /** A throughput scenario in another unit than Mpps (the samples' `mpps` then holds it); no line rate. */
  metric?: 'gbit/s' | 'conn/s' | 'req/s';
  /** What the table's first column says instead of the frame size (one case per scenario). */
  caseLabel?: string;
  /** The system whose figures are compared against all others (normally `softnet`). */
  subject: string;
  systems: BenchSystem[];
  frameSizes: FrameSize[];
  /** Packet loss is a result (flooded receiver) or a fault (low-rate latency probe). */
  expectLoss: boolean;
  /** CPU placement lines, printed and kept in the JSON. */
  placement: string[];
  /** A reason the whole scenario cannot run (missing pieces), checked before setup. */
  check?(): Promise<string | null>;
  setup?(log: (m: string) => void): Promise<void>;
  /** After its rates, before teardown: tables of its own (measured in the same run). */
  tables?(ctx: RunContext): Promise<ScenarioTable[]>;
  teardown?(log: (m: string) => void): Promise<void>;
}

/** A scenario's own table beside its rates: in the JSON and, under the scenario, in the Markdown. */
export interface ScenarioTable {
  scenario: string;
  title: string;
  head: string[];
  rows: string[][];
  notes?: string[];
  /** The measured values behind the rows. */
  data?: Record<string, unknown>[];
}

export type Status = 'ok' | 'not-run' | 'generator-limited' | 'loss';

export interface SystemResult extends Partial<Summary> {
  status: Status;
  /** Why it is not a plain number: "not run: ...", "generator-limited: ...". */
  reason?: string;
  /** Each repetition's Mpps, in run order. */
  reps?: number[];
  genMpps?: Summary;
  /** Latency systems: percentiles over all samples of all reps, µs. */
  p50?: number;
  p99?: number;
  p999?: number;
  samples?: number;
  lineRatePct?: number;
  /** Per repetition: what the tools reported besides the rate (summaries, XDP statistics...). */
  details?: Record<string, unknown>[];
}

export interface ScenarioEntry {
  name: string;
  frameSize: FrameSize;
  /** `mpps` for throughput (or the scenario's metric), `rtt-us` for latency (systems then carry p50/p99/p999). */
  metric: 'mpps' | 'rtt-us' | 'gbit/s' | 'conn/s' | 'req/s';
  /** The scenario's caseLabel, if it has one. */
  case?: string;
  systems: Record<string, SystemResult>;
  /** subject's median over each baseline's median (latency: subject's p99 over baseline's p99). */
  ratios: Record<string, number | null>;
  /** Why a ratio is null. */
  ratioNotes?: Record<string, string>;
  /** subject's median as % of line rate on the chosen link (null if not a number). */
  lineRatePct: number | null;
  stages?: StageRow[];
}

export interface ScenarioSkip {
  name: string;
  reason: string;
}

export interface BenchResult {
  schema: 'softnet-bench/1';
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  options: { quick: boolean; seconds: number; reps: number; link: Link; scenarios: string[] };
  machine: { cpuModel: string; cpus: number; kernel: string; node: string; commit: string; hostname: string };
  placement: Record<string, string[]>;
  scenarios: ScenarioEntry[];
  tables?: ScenarioTable[];
  notRun: ScenarioSkip[];
  log: string[];
}

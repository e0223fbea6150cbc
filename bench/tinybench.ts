// Reading a tinybench task's result the same way in every micro benchmark.
import type { Task } from 'tinybench';

/** Time per iteration in ms (median, best, mean) and the sample count; null if the task has none. */
export function taskMs(t: Task): { median: number; min: number; mean: number; samples: number } | null {
  const r = t.result;
  if (!r || !('latency' in r)) return null;
  const l = r.latency;
  return { median: l.p50 ?? l.mean, min: l.min, mean: l.mean, samples: l.samples.length };
}

// Reading a stack's counters in tests.

/** Drop reasons that grew between two `stack.stats().drops` snapshots, with how much. */
export function dropsSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) d[k] = v - (before[k] ?? 0);
  return d;
}

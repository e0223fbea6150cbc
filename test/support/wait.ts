// Conditions, not guessed delays: tests wait for the state they expect, polled under a generous
// deadline, so a loaded machine (CI, two `yes` hogs) makes them slower, never red.

/** Generous by design: a deadline only decides when a test gives up, never what it asserts. */
export const DEADLINE_MS = 20_000;

export interface WaitOptions {
  /** Give up after this long (default DEADLINE_MS). */
  timeoutMs?: number;
  /** Poll interval (default 20 ms). */
  everyMs?: number;
  /** Appended to the timeout error: the state seen last, so a failure says what was wrong. */
  detail?: () => string;
}

/**
 * Resolve with cond()'s first truthy value, polling; throw after the deadline naming what was
 * awaited (and `detail()`), so a timeout reads as a failed expectation, not a hang.
 */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, opts: WaitOptions | number = {}): Promise<T> {
  const o = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const timeoutMs = o.timeoutMs ?? DEADLINE_MS;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) {
      const d = o.detail ? `: ${o.detail()}` : '';
      throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}${d}`);
    }
    await sleep(o.everyMs ?? 20);
  }
}

/**
 * A pause. Only for a *rate* (pacing a sender, a poll interval) or for proving that something
 * does NOT happen within a window; never as a guess that something has happened.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

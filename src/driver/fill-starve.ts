// A port's fill starvation, the same for the XSK, TAP and memory ports: after a refill with fewer
// frames than its minimum the port is starved. Short of fill frames a port may get no interrupt
// and rx() would not run again to refill, so the way in is counted once (fill_starved) and the
// port's onStarved asks the poll loop to come back and retry.
export class FillStarve {
  starved = false;
  /** Times the port went starved (fill_starved). */
  count = 0;

  /** True when `held` frames reach `min`; below, the first time: counted and `wake` called. */
  check(held: number, min: number, wake: (() => void) | null): boolean {
    if (held >= min) {
      this.starved = false;
      return true;
    }
    if (!this.starved) {
      this.starved = true;
      this.count++;
      if (wake !== null) wake();
    }
    return false;
  }
}

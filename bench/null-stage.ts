// A stage that stands in for the end of the path (neigh-output, dev-xmit) in micro benchmarks:
// it counts what reaches it and keeps the frames, which the benchmark reuses.
import type { Batch } from '../src/core/batch.ts';
import type { Stage } from '../src/core/graph.ts';

export class NullStage implements Stage {
  sent = 0;
  constructor(readonly name: string) {}
  run(_b: Batch, _v: Uint16Array, n: number): void {
    this.sent += n;
  }
}

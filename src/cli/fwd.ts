// `softnet fwd` (xdpsock l2fwd): the drop loop, but each frame gets its MACs swapped and goes back
// out the same queue. Frames the TX ring refuses return to the pool and are counted (txRefused).
import { describeFlags } from './args.ts';
import { loopSpec, runLoop } from './drop.ts';

export const usage = `usage: softnet fwd --dev IF [--queue Q] [--mode M] [--duration S] [--batch N] [--busy-poll] [--json]

Receive frames on one queue of IF, swap source and destination MAC, and send each back out the
same queue (xdpsock l2fwd). Prints 'Summary  N rx/s  N err/s  N tx/s' each second; err counts
kernel drops and frames the TX ring refused. --json adds tx and txRefused to drop's fields.

options:
${describeFlags(loopSpec)}
`;

export function run(argv: string[]): Promise<number> {
  return runLoop('fwd', argv);
}

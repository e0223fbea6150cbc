// `npm run bench [-- options]`: the benchmark suite, same as `softnet bench` (see src/cli/bench.ts).
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['bench', ...process.argv.slice(2)]);
